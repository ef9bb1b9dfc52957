package state

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/trust"
)

// Process identifies a running hypervisor. The start time (clock ticks
// since boot, from /proc/PID/stat) makes the record safe against pid
// reuse: a different process with the same pid has a different start time.
type Process struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// ProcessOf returns the identity of the running process pid.
func ProcessOf(pid int) (Process, error) {
	st, err := startTime(pid)
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, StartTime: st}, nil
}

// Alive reports whether the recorded process still runs. A zombie does
// not: it exited, its parent just did not reap it yet (the parent may be
// a daemon that was killed).
func (p Process) Alive() bool {
	st, err := startTime(p.PID)
	return err == nil && st == p.StartTime
}

func startTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces and parentheses;
	// fields after the last ')' are plain numbers.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	const startTimeField = 22 - 3 // field 22, counted after pid and comm
	if len(f) <= startTimeField {
		return 0, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[startTimeField], 10, 64)
}

// WriteProcess records the VM's running process.
func WriteProcess(vmDir string, p Process) error {
	b, _ := json.Marshal(p)
	if err := renameio.WriteFile(filepath.Join(vmDir, ProcessFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("recording process of %q: %w", filepath.Base(vmDir), err)
	}
	return nil
}

// ReadProcess returns the recorded process, or nil when none is recorded.
// A record microvm did not write is an error matching trust.ErrUntrusted:
// the VM user could name any process in it (pid 1) to block stop and
// remove, or to have root signal it.
func ReadProcess(vmDir string) (*Process, error) {
	b, err := trust.ReadFile(filepath.Join(vmDir, ProcessFile))
	if trust.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Process
	if err := json.Unmarshal(b, &p); err != nil || p.PID <= 0 {
		return nil, fmt.Errorf("%s: malformed; expected {\"pid\": N, \"startTime\": N}", filepath.Join(vmDir, ProcessFile))
	}
	return &p, nil
}

// RemoveProcess forgets the VM's process record.
func RemoveProcess(vmDir string) error {
	return removeIfExists(filepath.Join(vmDir, ProcessFile))
}

// RunsIn reports whether the process runs in dir (its working directory).
// A hypervisor runs in its VM directory; the VM user can write the process
// record there, so before root signals the recorded pid it checks this:
// the VM user can then only name processes in its own VM directory.
func (p Process) RunsIn(dir string) bool {
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(p.PID) + "/cwd")
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(dir)
	return err == nil && cwd == want && p.Alive()
}
