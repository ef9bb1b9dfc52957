package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdAnalyzeVerify loads the rendered units into systemd's own
// parser. The paths contain a space, "%" and "$", so a wrong escape shows
// up as a missing executable. verify needs every Exec*= binary to exist,
// so the test builds a fake binary and runner in a temp dir; it creates
// nothing system-wide and works without systemd as PID 1.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	t.Run("ok", func(t *testing.T) {
		// No microvm-shutdown, like a kvmtool runner: ExecStop=- must not
		// make verify complain.
		out, err := verify(t, analyze, "bin/microvm-run")
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if ours(line) {
				t.Errorf("systemd-analyze verify warns about our units: %s", line)
			}
		}
	})
	// The negative control proves verify really read our units: without
	// microvm-run it must name the missing executable.
	t.Run("control", func(t *testing.T) {
		out, err := verify(t, analyze)
		if err == nil || !strings.Contains(out, "bin/microvm-run is not executable") {
			t.Fatalf("verify without microvm-run: err %v, output\n%s", err, out)
		}
	})
}

// verify renders the units for a VM "test" whose runner has the given
// executables and runs systemd-analyze verify on every unit.
func verify(t *testing.T, analyze string, runnerFiles ...string) (string, error) {
	root := filepath.Join(t.TempDir(), "a b %x $y")
	unitDir := filepath.Join(root, "units")
	stateDir := filepath.Join(root, "state")
	microvm := filepath.Join(root, "bin dir", "microvm")
	runnerDir := filepath.Join(stateDir, "test", "runner")
	writeFile(t, microvm, "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(runnerDir, "share/microvm/tap-interfaces"), "vm-test\n", 0o644)
	for _, f := range runnerFiles {
		writeFile(t, filepath.Join(runnerDir, f), "#!/bin/sh\n", 0o755)
	}
	for _, link := range []string{"current", "booted"} {
		if err := os.Symlink("runner", filepath.Join(stateDir, "test", link)); err != nil {
			t.Fatal(err)
		}
	}
	units, err := Render(Options{
		Microvm: microvm, StateDir: stateDir, Autostart: []string{"test"},
		// root exists everywhere; verify warns about an unknown User=.
		User: "root", Group: "root",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := Install(unitDir, units); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--man=no"}
	for _, u := range units {
		args = append(args, strings.Replace(u.Name, "@.", "@test.", 1))
	}
	cmd := exec.Command(analyze, args...)
	// The trailing ":" keeps the default search path for multi-user.target,
	// network.target and friends.
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+unitDir+":", "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s\n%s", analyze, strings.Join(args, " "), out)
	return string(out), err
}

// ours reports whether a verify message is about a unit Render wrote, as
// opposed to the host's own units (pulled in through multi-user.target),
// which are not ours to fix.
func ours(line string) bool {
	return strings.Contains(line, "microvm")
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
