package metrics

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
)

// newState is an empty state directory.
func newState(t *testing.T) *state.Dir {
	t.Helper()
	d, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// addVM creates the VM name with runner p, booted as well as current, as
// `microvm create` and a start would leave it; it returns its directory.
func addVM(t *testing.T, d *state.Dir, name string, p *runner.Package) string {
	t.Helper()
	if len(p.Scripts) == 0 {
		p.Scripts = []runner.Script{{Name: "microvm-run", Content: []byte("#!/bin/sh\nexec sleep 1000\n")}}
	}
	src := filepath.Join(t.TempDir(), "runner")
	if err := runner.Write(src, p); err != nil {
		t.Fatal(err)
	}
	stored, release, err := d.Import(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	st, err := d.Stage(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{state.CurrentLink, state.BootedLink} {
		if err := st.SetLink(l, stored); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Commit(-1); err != nil {
		t.Fatal(err)
	}
	return d.VMPath(name)
}

// runIn starts argv in vmDir as the VM's hypervisor, recorded as its
// process; it is killed when the test ends.
func runIn(t *testing.T, vmDir string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = vmDir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	p, err := state.ProcessOf(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := state.WriteProcess(vmDir, p); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// fakeTree writes files (path relative to root: content) under root.
func fakeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// statLine is a /proc/PID/stat line with the fields sampling reads:
// ppid, utime and stime, starttime (clock ticks) and rss (pages).
func statLine(pid int, comm string, ppid int, utime, stime, starttime uint64) string {
	f := make([]string, 52)
	for i := range f {
		f[i] = "0"
	}
	f[0], f[1], f[2], f[3] = fmt.Sprint(pid), "("+comm+")", "S", fmt.Sprint(ppid)
	f[13], f[14], f[21], f[23] = fmt.Sprint(utime), fmt.Sprint(stime), fmt.Sprint(starttime), "10"
	return strings.Join(f, " ") + "\n"
}
