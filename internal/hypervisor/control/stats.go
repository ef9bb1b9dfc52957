package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sort"
)

// Executor runs one QMP command and returns its "return" value: a
// QMPWatch, or a QMP session of OpenQMP.
type Executor interface {
	Execute(ctx context.Context, command string, args any) (json.RawMessage, error)
}

// QMP is a session on a QMP monitor that no one else uses.
type QMP struct{ q *qmpConn }

// OpenQMP starts a QMP session on conn (dialled through
// trust.DialSocket: the socket is the VM user's); ctx bounds the whole
// session. It closes conn when it fails.
func OpenQMP(ctx context.Context, conn net.Conn) (*QMP, error) {
	q, err := openQMP(ctx, conn)
	if err != nil {
		return nil, err
	}
	return &QMP{q}, nil
}

// Execute runs one command.
func (s *QMP) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	return s.q.execute(ctx, command, args)
}

// Close ends the session.
func (s *QMP) Close() error { return s.q.Close() }

// BlockStat is one disk's counters as qemu keeps them since it started.
type BlockStat struct {
	Device                string
	ReadBytes, WriteBytes uint64
	ReadOps, WriteOps     uint64
}

// QueryBlockStats asks qemu for its disks' counters (query-blockstats),
// sorted by device: the drive's id (-drive id=vda), else its node name
// (-blockdev), else its device's path in the QOM tree.
func QueryBlockStats(ctx context.Context, q Executor) ([]BlockStat, error) {
	ret, err := q.Execute(ctx, "query-blockstats", nil)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Device   string `json:"device"`
		NodeName string `json:"node-name"`
		QDev     string `json:"qdev"`
		Stats    struct {
			ReadBytes  uint64 `json:"rd_bytes"`
			WriteBytes uint64 `json:"wr_bytes"`
			ReadOps    uint64 `json:"rd_operations"`
			WriteOps   uint64 `json:"wr_operations"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(ret, &entries); err != nil {
		return nil, fmt.Errorf("query-blockstats: unexpected reply: %w", err)
	}
	out := make([]BlockStat, 0, len(entries))
	for _, e := range entries {
		dev := e.Device
		for _, alt := range []string{e.NodeName, e.QDev} {
			if dev == "" {
				dev = alt
			}
		}
		if dev == "" {
			continue
		}
		st := e.Stats
		out = append(out, BlockStat{Device: dev, ReadBytes: st.ReadBytes, WriteBytes: st.WriteBytes, ReadOps: st.ReadOps, WriteOps: st.WriteOps})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out, nil
}

// QueryBalloon asks qemu for the guest's RAM as its balloon leaves it
// (query-balloon "actual"), in bytes; ok is false when the VM has no
// balloon device.
func QueryBalloon(ctx context.Context, q Executor) (actual uint64, ok bool, err error) {
	ret, err := q.Execute(ctx, "query-balloon", nil)
	var qe *qmpError
	if errors.As(err, &qe) && qe.Class == "DeviceNotActive" {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var info struct {
		Actual *uint64 `json:"actual"`
	}
	if err := json.Unmarshal(ret, &info); err != nil || info.Actual == nil {
		return 0, false, fmt.Errorf("query-balloon: unexpected reply %.200s", ret)
	}
	return *info.Actual, true, nil
}
