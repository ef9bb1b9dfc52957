package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor/control"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/trust"
)

// StatsSocket is where `microvm run` serves the statistics of the qemu
// whose events monitor (qemu.EventsSocket) it holds for the whole run,
// in root's runtime directory. qemu serves one client per monitor, and
// its control socket is bin/microvm-shutdown's: a scrape that held it
// would delay a stop, and one that hung would block it. The events
// monitor is already held, so its holder asks qemu on the sampler's
// behalf (control.QMPWatch.Execute).
func StatsSocket(runtime, name string) string { return filepath.Join(runtime, name+".stats") }

// qemuStats is what a stats socket answers: one JSON object.
type qemuStats struct {
	Disks    []DiskSample `json:"disks"`
	Balloon  *uint64      `json:"balloon,omitempty"`
	Problems []string     `json:"problems,omitempty"`
}

// maxStatsReply bounds a stats socket's answer: a few hundred bytes per
// disk.
const maxStatsReply = 1 << 20

// statsAnswer bounds answering one stats request: the sampler's wait.
const statsAnswer = 2 * time.Second

// queryQemu asks q for its disks and balloon.
func queryQemu(ctx context.Context, q control.Executor) qemuStats {
	var st qemuStats
	blocks, err := control.QueryBlockStats(ctx, q)
	if err != nil {
		st.Problems = append(st.Problems, "disks: "+err.Error())
	}
	st.Disks = make([]DiskSample, 0, len(blocks))
	for _, b := range blocks {
		st.Disks = append(st.Disks, DiskSample{Device: b.Device, ReadBytes: b.ReadBytes, WriteBytes: b.WriteBytes, ReadOps: b.ReadOps, WriteOps: b.WriteOps})
	}
	if actual, ok, err := control.QueryBalloon(ctx, q); err != nil {
		st.Problems = append(st.Problems, "balloon: "+err.Error())
	} else if ok {
		st.Balloon = &actual
	}
	return st
}

// ServeStats answers every connection to the socket at path with q's
// statistics, one request at a time, until stop is called; stop removes
// the socket. A stale socket of an earlier run is replaced. The socket
// is root's, mode 0600: the runtime directory may be readable by all.
func ServeStats(path string, q control.Executor) (stop func(), err error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("removing stale stats socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on stats socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("stats socket %q: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			answerStats(ctx, c, q)
		}
	}()
	return func() {
		cancel()
		ln.Close()
		wg.Wait()
		os.Remove(path)
	}, nil
}

func answerStats(ctx context.Context, c net.Conn, q control.Executor) {
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, statsAnswer)
	defer cancel()
	c.SetDeadline(time.Now().Add(statsAnswer))
	json.NewEncoder(c).Encode(queryQemu(ctx, q))
}

// askMonitor reads the answer of the stats socket at path.
func askMonitor(ctx context.Context, path string) (qemuStats, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return qemuStats{}, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var st qemuStats
	if err := json.NewDecoder(io.LimitReader(c, maxStatsReply)).Decode(&st); err != nil {
		return qemuStats{}, fmt.Errorf("reading %s: %w", path, err)
	}
	return st, nil
}

// qemuStatsOf fills the disks and balloon of a qemu VM: from the stats
// socket of the `microvm run` that holds its events monitor, or, for a
// VM run by systemd, whose events monitor no one holds, from that
// monitor directly for the moment of the question.
func (s *Sampler) qemuStatsOf(ctx context.Context, vmDir, name string, uid int, underSystemd bool, vs *VMSample) {
	var st qemuStats
	var err error
	switch {
	case s.Runtime != "" && !underSystemd:
		st, err = askMonitor(ctx, StatsSocket(s.Runtime, name))
		if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("no monitor serves them (a `microvm run` outside the daemon, or a runner without an events monitor)")
		}
	case underSystemd:
		st, err = askEvents(ctx, filepath.Join(vmDir, qemu.EventsSocket), uid)
	default:
		return
	}
	if err != nil {
		vs.problem("disks: %v", err)
		return
	}
	vs.Disks, vs.BalloonBytes = st.Disks, st.Balloon
	vs.Problems = append(vs.Problems, st.Problems...)
}

// askEvents asks qemu over its events monitor, which no one else holds,
// through trust.DialSocket: it is in the VM directory, and the VM user's.
func askEvents(ctx context.Context, path string, uid int) (qemuStats, error) {
	conn, err := trust.DialSocket(path, uid)
	if err != nil {
		return qemuStats{}, err
	}
	q, err := control.OpenQMP(ctx, conn)
	if err != nil {
		return qemuStats{}, err
	}
	defer q.Close()
	return queryQemu(ctx, q), nil
}
