package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// fakeTool puts an executable shell script called name first on PATH. It
// appends its arguments (and $HOME) to the returned log file.
func fakeTool(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	script := "#!/bin/sh\necho \"HOME=$HOME $*\" >> " + log + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

func readLog(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCrosvm(t *testing.T) {
	t.Setenv("HOME", "/home/x")
	log := fakeTool(t, "crosvm", `[ "$1" = balloon_stats ] && echo '{"BalloonStats": {"stats": {}, "balloon_actual": 268435456}}'; exit 0`)
	if err := RequestShutdown(t.Context(), hypervisor.ShutdownCrosvm, "vm.sock", ""); err != nil {
		t.Fatal(err)
	}
	got, err := Balloon(t.Context(), hypervisor.BalloonCrosvm, "vm.sock", "", 256)
	if err != nil || got != 256 {
		t.Errorf("Balloon = %d, %v; want 256", got, err)
	}
	want := "HOME=/home/x powerbtn vm.sock\nHOME=/home/x balloon 268435456 vm.sock\nHOME=/home/x balloon_stats vm.sock\n"
	if l := readLog(t, log); l != want {
		t.Errorf("crosvm ran\n%swant\n%s", l, want)
	}
}

func TestCrosvmFailure(t *testing.T) {
	fakeTool(t, "crosvm", `echo "failed to connect to vm.sock" >&2; exit 1`)
	err := RequestShutdown(t.Context(), hypervisor.ShutdownCrosvm, "vm.sock", "")
	want := `requesting shutdown (crosvm) over "vm.sock": running ["crosvm" "powerbtn" "vm.sock"]: exit status 1: failed to connect to vm.sock`
	if err == nil || err.Error() != want {
		t.Errorf("RequestShutdown = %v\nwant %s", err, want)
	}
}

func TestKvmtoolBalloon(t *testing.T) {
	log := fakeTool(t, "lkvm", "exit 0")
	vmDir := t.TempDir()
	t.Chdir(vmDir)
	for _, size := range []int64{64, -32, 0} {
		got, err := Balloon(t.Context(), hypervisor.BalloonKvmtool, ".lkvm/vm.sock", "", size)
		if err != nil || got != size {
			t.Errorf("Balloon(%d) = %d, %v", size, got, err)
		}
	}
	want := "HOME=" + vmDir + " balloon -n vm -i 64\nHOME=" + vmDir + " balloon -n vm -d 32\n"
	if l := readLog(t, log); l != want {
		t.Errorf("lkvm ran\n%swant\n%s", l, want)
	}
	if _, err := Balloon(t.Context(), hypervisor.BalloonKvmtool, "vm.sock", "", 1); err == nil || !strings.Contains(err.Error(), "not an lkvm socket") {
		t.Errorf("Balloon with a non-lkvm socket = %v", err)
	}
}

// TestRecordedBinary runs the binary the runner was made with, even when
// PATH has another one or none (systemd's ExecStop).
func TestRecordedBinary(t *testing.T) {
	pathLog := fakeTool(t, "crosvm", "exit 1")
	dir := t.TempDir()
	own := filepath.Join(dir, "crosvm-custom")
	ownLog := filepath.Join(dir, "log")
	if err := os.WriteFile(own, []byte("#!/bin/sh\necho \"$*\" >> "+ownLog+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := RequestShutdown(t.Context(), hypervisor.ShutdownCrosvm, "vm.sock", own); err != nil {
		t.Fatal(err)
	}
	if l := readLog(t, ownLog); l != "powerbtn vm.sock\n" {
		t.Errorf("%s ran %q", own, l)
	}
	if _, err := os.Stat(pathLog); err == nil {
		t.Errorf("crosvm on PATH ran: %s", readLog(t, pathLog))
	}

	lkvm := filepath.Join(dir, "lkvm-custom")
	if err := os.WriteFile(lkvm, []byte("#!/bin/sh\necho \"lkvm $*\" >> "+ownLog+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if _, err := Balloon(t.Context(), hypervisor.BalloonKvmtool, ".lkvm/vm.sock", lkvm, 16); err != nil {
		t.Fatal(err)
	}
	if l := readLog(t, ownLog); !strings.HasSuffix(l, "lkvm balloon -n vm -i 16\n") {
		t.Errorf("%s did not run: %q", lkvm, l)
	}
}
