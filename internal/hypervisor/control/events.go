package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
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
	return NewQMPWatch(conn).Run(ctx)
}

// QMPWatch is WatchQMP that also runs commands on the same connection
// for others while it watches (Execute): qemu serves one client per
// monitor, and the control socket must stay free for
// bin/microvm-shutdown, so the one who holds the events monitor is the
// one who can ask qemu for its statistics without getting in a stop's
// way. Commands carry an id, and their replies are told from events by
// it.
type QMPWatch struct {
	conn  net.Conn
	wmu   sync.Mutex // one message written at a time
	ready chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	next    int
	pending map[string]chan qmpMessage
}

// NewQMPWatch watches conn once Run runs.
func NewQMPWatch(conn net.Conn) *QMPWatch {
	return &QMPWatch{conn: conn, ready: make(chan struct{}), done: make(chan struct{}), pending: map[string]chan qmpMessage{}}
}

// errWatchEnded is Execute's answer once the watch ended.
var errWatchEnded = errors.New("the QMP events connection is closed")

// Run is WatchQMP. Execute answers from when capabilities are negotiated
// until Run returns.
func (w *QMPWatch) Run(ctx context.Context) (Ending, error) {
	defer close(w.done)
	conn := w.conn
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
	w.wmu.Lock()
	_, err := conn.Write([]byte(`{"execute":"qmp_capabilities"}` + "\n"))
	w.wmu.Unlock()
	if err != nil {
		return end, fmt.Errorf("sending qmp_capabilities: %w", ctxErr(ctx, err))
	}
	negotiated := false
	for {
		m, err := read()
		switch {
		case errors.Is(err, errQMPClosed):
			return end, nil
		case err != nil:
			return end, err
		case len(m.ID) > 0:
			w.deliver(m)
		case m.Error != nil:
			return end, fmt.Errorf("qmp_capabilities: %w", m.Error)
		case !negotiated && m.Return != nil:
			negotiated = true
			close(w.ready)
		}
	}
}

// deliver hands a reply to the Execute that waits for it.
func (w *QMPWatch) deliver(m qmpMessage) {
	w.mu.Lock()
	ch := w.pending[string(m.ID)]
	delete(w.pending, string(m.ID))
	w.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// Execute runs command on the watched monitor and returns its "return"
// value. It waits for Run to have negotiated capabilities, and fails
// once Run returned. What it returns comes from the VM user's qemu:
// treat it as such.
func (w *QMPWatch) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	select {
	case <-w.ready:
	case <-w.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-w.done: // ready, too, once it ran
		return nil, fmt.Errorf("%s: %w", command, errWatchEnded)
	default:
	}
	w.mu.Lock()
	w.next++
	id, _ := json.Marshal(fmt.Sprintf("microvm-%d", w.next))
	ch := make(chan qmpMessage, 1)
	w.pending[string(id)] = ch
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.pending, string(id))
		w.mu.Unlock()
	}()
	req, err := json.Marshal(struct {
		Arguments any             `json:"arguments,omitempty"`
		Execute   string          `json:"execute"`
		ID        json.RawMessage `json:"id"`
	}{args, command, id})
	if err != nil {
		return nil, err
	}
	w.wmu.Lock()
	_, err = w.conn.Write(append(req, '\n'))
	w.wmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("sending %s: %w", command, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, fmt.Errorf("%s: %w", command, m.Error)
		}
		return m.Return, nil
	case <-w.done:
		return nil, fmt.Errorf("%s: %w", command, errWatchEnded)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", command, ctx.Err())
	}
}

var errQMPClosed = errors.New("QMP connection closed")

// qmpMessage is any QMP message, as far as WatchQMP reads it.
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Error  *qmpError       `json:"error"`
	Return json.RawMessage `json:"return"`
	ID     json.RawMessage `json:"id"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
}
