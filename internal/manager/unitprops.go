package manager

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// unitProps is what the systemd manager reads of a unit: the Unit
// interface's state and the Service interface's main process.
type unitProps struct {
	LoadState, ActiveState, SubState string
	JobPending                       bool   // a start or stop job is queued
	InvocationID                     string // hex; "" before the first run
	ActiveEnter, StateChange         time.Time
	WorkingDirectory                 string
	MainPID                          int
	NRestarts                        int
	// How the main process last ended: ExecMainCode is a CLD_* code
	// (0: it never ended), ExecMainStatus the exit status or signal.
	ExecMainCode, ExecMainStatus int
	ExecMainStart, ExecMainExit  time.Time
	Result                       string
	// Restart is the unit's Restart=; StartLimitBurst starts within
	// StartLimitInterval make systemd refuse the next.
	Restart            string
	StartLimitBurst    int
	StartLimitInterval time.Duration
}

// props reads unit's properties (loading it, as systemctl show does).
func (m *systemdManager) props(ctx context.Context, unit string) (unitProps, error) {
	ui, err := m.bus.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return unitProps{}, fmt.Errorf("reading %s from systemd: %w", unit, err)
	}
	si, err := m.bus.GetUnitTypePropertiesContext(ctx, unit, "Service")
	if err != nil {
		return unitProps{}, fmt.Errorf("reading %s from systemd: %w", unit, err)
	}
	u := unitProps{
		LoadState:        str(ui["LoadState"]),
		ActiveState:      str(ui["ActiveState"]),
		SubState:         str(ui["SubState"]),
		ActiveEnter:      usec(ui["ActiveEnterTimestamp"]),
		StateChange:      usec(ui["StateChangeTimestamp"]),
		WorkingDirectory: str(si["WorkingDirectory"]),
		MainPID:          num(si["MainPID"]),
		NRestarts:        num(si["NRestarts"]),
		ExecMainCode:     num(si["ExecMainCode"]),
		ExecMainStatus:   num(si["ExecMainStatus"]),
		ExecMainStart:    usec(si["ExecMainStartTimestamp"]),
		ExecMainExit:     usec(si["ExecMainExitTimestamp"]),
		Result:           str(si["Result"]),
		Restart:          str(si["Restart"]),
		StartLimitBurst:  num(ui["StartLimitBurst"]),
	}
	if us, ok := ui["StartLimitIntervalUSec"].(uint64); ok {
		u.StartLimitInterval = time.Duration(us) * time.Microsecond
	}
	// Job is (id, path); id 0 when no job is queued.
	if job, ok := ui["Job"].([]any); ok && len(job) == 2 {
		u.JobPending = num(job[0]) != 0
	}
	if id, ok := ui["InvocationID"].([]byte); ok && len(id) > 0 {
		u.InvocationID = hex.EncodeToString(id)
	}
	return u, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	switch n := v.(type) {
	case int32:
		return int(n)
	case uint32:
		return int(n)
	case int64:
		return int(n)
	case uint64:
		return int(n)
	}
	return 0
}

// usec converts systemd's µs since the epoch; 0 means never.
func usec(v any) time.Time {
	n, ok := v.(uint64)
	if !ok || n == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(n))
}

// The si_code values systemd reports as ExecMainCode (waitid(2)).
const (
	cldExited = 1
	cldKilled = 2
	cldDumped = 3
)

// exit is how the main process last ended while systemd still knows,
// in the words of ExecStopPost='s environment; ok is false once systemd
// forgot (the unit was unloaded) or it never ended.
func (u unitProps) exit() (e UnitExit, ok bool) {
	e = UnitExit{Result: u.Result, Time: u.ExecMainExit}
	switch u.ExecMainCode {
	case cldExited:
		e.Code, e.Status = "exited", strconv.Itoa(u.ExecMainStatus)
	case cldKilled, cldDumped:
		e.Code = map[int]string{cldKilled: "killed", cldDumped: "dumped"}[u.ExecMainCode]
		e.Status = strings.TrimPrefix(unix.SignalName(unix.Signal(u.ExecMainStatus)), "SIG")
	}
	return e, !u.ExecMainExit.IsZero() || u.Result != "success" && u.Result != ""
}

// gaveUp reports whether systemd stopped restarting a failed unit
// because of its start limit. systemd 252 says "Start request repeated
// too quickly" in the journal but keeps the last run's Result (exit-code
// and the like) when the limit stops an automatic restart; a unit that
// restarts on failure and is failed with such a result hit the limit.
func (u unitProps) gaveUp() bool {
	switch u.Result {
	case "exit-code", "signal", "core-dump":
		return u.Restart == "always" || u.Restart == "on-failure" || u.Restart == "on-abnormal" && u.Result != "exit-code"
	}
	return false
}

// status is the VM's Status under systemd. The unit says what runs; the
// state directory adds what the unit cannot know (a booted link left
// behind with nothing running), and rec how the last run ended once
// systemd forgot.
func (u unitProps) status(vm state.VM, rec *UnitExit) supervisor.Status {
	st := supervisor.Status{
		Name:     vm.Name,
		Restarts: u.NRestarts,
		Since:    u.StateChange,
	}
	if e, ok := u.exit(); ok {
		st.LastExit = e.String()
	} else if rec != nil {
		st.LastExit = rec.String()
		if st.Since.IsZero() {
			st.Since = rec.Time
		}
	}
	switch u.ActiveState {
	case "active", "reloading":
		st.State, st.PID, st.Since = supervisor.Running, u.MainPID, u.ActiveEnter
	case "activating":
		st.State = supervisor.Starting // also "auto-restart": waiting for RestartSec
	case "deactivating":
		st.State = supervisor.Stopping
	case "failed":
		st.State = supervisor.Failed
		if u.gaveUp() {
			st.LastExit += fmt.Sprintf("; not restarted: %d starts within %s (StartLimitBurst)", u.StartLimitBurst, u.StartLimitInterval)
		}
	case "inactive":
		if u.JobPending {
			// Its helpers run first; microvm@ waits for them.
			st.State = supervisor.Starting
			break
		}
		fallthrough
	default:
		st.State = supervisor.Stopped
		if vm.Booted != "" || vm.Broken() {
			st.State = supervisor.Broken
		}
	}
	st.Wanted = st.State == supervisor.Running || st.State == supervisor.Starting
	return st
}
