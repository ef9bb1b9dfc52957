package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/state"
)

// TestHelloShutdownSignalsMainPID: the example runner's microvm-shutdown
// signals the process it is told about in $MAINPID, and never one named
// in the VM directory, which the VM user can write (SECURITY.md, finding
// 8: a nested "pid" in the record made root SIGTERM an unrelated process).
func TestHelloShutdownSignalsMainPID(t *testing.T) {
	script, err := filepath.Abs("../../examples/hello/bin/microvm-shutdown")
	if err != nil {
		t.Fatal(err)
	}
	hypervisor := exec.Command("sleep", "60")
	bystander := exec.Command("sleep", "60")
	for _, c := range []*exec.Cmd{hypervisor, bystander} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Process.Kill()
	}
	dir := t.TempDir()
	st, err := state.ProcessOf(hypervisor.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	record := fmt.Sprintf(`{"pid":%d,"startTime":%d,"x":{"pid":%d}}`, st.PID, st.StartTime, bystander.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, state.ProcessFile), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}

	run := func(mainpid string) (string, error) {
		cmd := exec.Command(script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "MAINPID="+mainpid)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(""); err == nil || !strings.Contains(out, "$MAINPID must name the hypervisor's pid") {
		t.Fatalf("without $MAINPID: %v: %s", err, out)
	}
	if out, err := run(fmt.Sprint(hypervisor.Process.Pid)); err != nil {
		t.Fatalf("with $MAINPID: %v: %s", err, out)
	}
	done := make(chan error, 1)
	go func() { done <- hypervisor.Wait() }()
	select {
	case err := <-done:
		if !strings.Contains(fmt.Sprint(err), "terminated") {
			t.Fatalf("hypervisor ended with %v; want SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the $MAINPID process was not signalled")
	}
	if p, err := state.ProcessOf(bystander.Process.Pid); err != nil || !p.Alive() {
		t.Fatalf("the bystander named in the record was signalled: %v", err)
	}
}
