package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// maxQMPLine bounds one QMP message read by WatchQMP: the monitor that
// watches runs as root, and the socket is the VM user's.
const maxQMPLine = 64 << 10

// WatchQMP reads the events of a QMP monitor on conn, a connection to a
// monitor that no one else uses, until qemu closes it (it exits) or ctx
// ends. It returns the Ending of the last SHUTDOWN event; the zero Ending
// when there was none (qemu was killed, or it is not qemu).
func WatchQMP(ctx context.Context, conn net.Conn) (Ending, error) {
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 4096), maxQMPLine)
	var end Ending
	read := func() (qmpMessage, error) {
		if !sc.Scan() {
			err := sc.Err()
			if err == nil || errors.Is(err, syscall.ECONNRESET) {
				err = errQMPClosed
			}
			return qmpMessage{}, ctxErr(ctx, err)
		}
		var m qmpMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return qmpMessage{}, fmt.Errorf("reading QMP: %w", err)
		}
		if m.Event == "SHUTDOWN" {
			var d struct {
				Guest  bool   `json:"guest"`
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(m.Data, &d); err != nil {
				return qmpMessage{}, fmt.Errorf("reading QMP SHUTDOWN event: %w", err)
			}
			end = endingOfQMP(d.Guest, d.Reason)
		}
		return m, nil
	}
	// Events come only after capabilities negotiation.
	if m, err := read(); err != nil || m.QMP == nil {
		return end, fmt.Errorf("reading QMP greeting: %w", orMissing(err, "no QMP key"))
	}
	if _, err := conn.Write([]byte(`{"execute":"qmp_capabilities"}` + "\n")); err != nil {
		return end, fmt.Errorf("sending qmp_capabilities: %w", ctxErr(ctx, err))
	}
	for {
		m, err := read()
		switch {
		case errors.Is(err, errQMPClosed):
			return end, nil
		case err != nil:
			return end, err
		case m.Error != nil:
			return end, fmt.Errorf("qmp_capabilities: %w", m.Error)
		}
	}
}

var errQMPClosed = errors.New("QMP connection closed")

// qmpMessage is any QMP message, as far as WatchQMP reads it.
type qmpMessage struct {
	QMP   json.RawMessage `json:"QMP"`
	Error *qmpError       `json:"error"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}
