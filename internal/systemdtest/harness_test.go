package systemdtest_test

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestHarness: commands run inside the container, in its own network
// namespace, and files written through Path land in the overlay, not on
// the host.
func TestHarness(t *testing.T) {
	c := boot(t)
	ctx := context.Background()
	out, err := c.Run(ctx, "systemctl", "is-system-running")
	if err != nil || strings.TrimSpace(out) != "running" && strings.TrimSpace(out) != "degraded" {
		t.Fatalf("systemctl is-system-running: %q, %v", out, err)
	}
	if out, _ := c.Run(ctx, "cat", "/proc/1/comm"); strings.TrimSpace(out) != "systemd" {
		t.Errorf("PID 1 in the container is %q, want systemd", out)
	}
	marker := "/var/tmp/systemdtest-marker"
	if err := c.WriteFile(marker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a file written into the container appeared on the host: %v", err)
	}
	if _, err := c.Run(ctx, "test", "-f", marker); err != nil {
		t.Errorf("the container does not see the file written into it: %v", err)
	}
	hostLinks, _ := os.ReadDir("/sys/class/net")
	if _, err := c.Run(ctx, "ip", "tuntap", "add", "mvt-probe", "mode", "tap"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/class/net/mvt-probe"); err == nil {
		t.Errorf("a tap made in the container appeared on the host")
	}
	c.Run(ctx, "ip", "link", "del", "mvt-probe")
	if now, _ := os.ReadDir("/sys/class/net"); len(now) != len(hostLinks) {
		t.Errorf("the host's links changed: %d → %d", len(hostLinks), len(now))
	}
}
