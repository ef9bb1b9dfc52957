package systemdtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAutostartAcrossReboot: microvms.target, enabled by `microvm systemd
// install --autostart autostart`, starts that VM when the container boots
// again, with its tap; a VM not listed stays stopped.
func TestAutostartAcrossReboot(t *testing.T) {
	c := boot(t)
	auto := newVM(t, c, autostartVM, stub{taps: []string{"vm-autostart"}})
	other := newVM(t, c, "manual", stub{})
	// Both run before the reboot; only the autostart one comes back.
	auto.microvm("start", autostartVM)
	other.microvm("start", "manual")

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	start := time.Now()
	if err := c.Reboot(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("the container rebooted in %.1f s", time.Since(start).Seconds())

	if got := state(t, c, "microvms.target"); got != "active" {
		t.Errorf("microvms.target is %s after the boot", got)
	}
	waitFor(t, time.Minute, "microvm@autostart running", func() bool { return state(t, c, auto.unit()) == "active" })
	auto.waitConsole("^stub: up$", time.Minute)
	uid := vmUID(t, c)
	if console := auto.console(); !strings.Contains(console, fmt.Sprintf("stub: tap vm-autostart owner %d", uid)) {
		t.Errorf("the autostarted VM did not find its tap:\n%s", console)
	}
	if got := state(t, c, other.unit()); got != "inactive" {
		t.Errorf("microvm@manual is %s after the boot; only autostart VMs start", got)
	}
	out := auto.microvm("status")
	for _, want := range []string{autostartVM + " ", "running", "manual "} {
		if !strings.Contains(out, want) {
			t.Errorf("status after the reboot has no %q:\n%s", want, out)
		}
	}
	if exists(c, other.dir()+"/booted") {
		t.Error("the VM that was running at the reboot still has booted")
	}
}
