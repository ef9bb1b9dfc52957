package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"
)

// qmpConn is a QMP session on qemu's control socket
// (https://www.qemu.org/docs/master/interop/qmp-spec.html): a greeting,
// then one JSON object per command and per reply, with asynchronous
// events interleaved.
type qmpConn struct {
	conn net.Conn
	dec  *json.Decoder
	stop func() bool
}

// qmpError is an {"error": …} reply.
type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *qmpError) Error() string { return e.Desc + " (" + e.Class + ")" }

// dialQMP connects, reads the greeting and leaves capabilities
// negotiation mode. ctx bounds the whole session.
func dialQMP(ctx context.Context, socket string) (*qmpConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	return openQMP(ctx, conn)
}

// openQMP is dialQMP on a connection made already; it closes conn when
// it fails.
func openQMP(ctx context.Context, conn net.Conn) (*qmpConn, error) {
	q := &qmpConn{conn: conn, dec: json.NewDecoder(conn)}
	// Unblock reads and writes when ctx ends.
	q.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := q.dec.Decode(&greeting); err != nil || greeting.QMP == nil {
		q.Close()
		return nil, fmt.Errorf("reading QMP greeting: %w", ctxErr(ctx, orMissing(err, "no QMP key")))
	}
	if _, err := q.execute(ctx, "qmp_capabilities", nil); err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmpConn) Close() error {
	q.stop()
	return q.conn.Close()
}

// execute runs one command and returns its "return" value.
func (q *qmpConn) execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	// Keys in sorted order, as microvm.nix's builtins.toJSON writes them.
	req := struct {
		Arguments any    `json:"arguments,omitempty"`
		Execute   string `json:"execute"`
	}{args, command}
	if err := json.NewEncoder(q.conn).Encode(req); err != nil {
		return nil, fmt.Errorf("sending %s: %w", command, ctxErr(ctx, err))
	}
	for {
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *qmpError       `json:"error"`
			Event  string          `json:"event"`
		}
		if err := q.dec.Decode(&reply); err != nil {
			return nil, fmt.Errorf("reading reply to %s: %w", command, ctxErr(ctx, err))
		}
		switch {
		case reply.Error != nil:
			return nil, fmt.Errorf("%s: %w", command, reply.Error)
		case reply.Return != nil:
			return reply.Return, nil
		}
		// An asynchronous event (or something newer we do not know):
		// the reply is still to come.
	}
}

// keyEvent presses a key (an InputKeyEvent of input-send-event).
type keyEvent struct {
	Data struct {
		Down bool `json:"down"`
		Key  struct {
			Data string `json:"data"`
			Type string `json:"type"`
		} `json:"key"`
	} `json:"data"`
	Type string `json:"type"`
}

func keyDown(qcode string) keyEvent {
	var e keyEvent
	e.Type, e.Data.Down = "key", true
	e.Data.Key.Type, e.Data.Key.Data = "qcode", qcode
	return e
}

// ctrlAltDel presses Ctrl+Alt+Del exactly as microvm.nix does: the guest
// reboots, and -no-reboot turns that into qemu exiting.
func (q *qmpConn) ctrlAltDel(ctx context.Context) error {
	events := []keyEvent{keyDown("ctrl"), keyDown("alt"), keyDown("delete")}
	_, err := q.execute(ctx, "input-send-event", map[string]any{"events": events})
	return err
}

// qmpShutdown sends Ctrl+Alt+Del, and an ACPI power button press where
// the machine has no keyboard (qemu answers "Input handler not found for
// event type key"; aarch64 has no i8042). microvm.nix has since switched
// to system_powerdown for that reason, but a guest without an ACPI power
// button handler (no systemd-logind or acpid) ignores it, while every
// Linux init reboots on Ctrl+Alt+Del.
func qmpShutdown(ctx context.Context, socket string) error {
	q, err := dialQMP(ctx, socket)
	if err != nil {
		return err
	}
	defer q.Close()
	keyErr := q.ctrlAltDel(ctx)
	if keyErr == nil {
		return nil
	}
	var qe *qmpError
	if !errors.As(keyErr, &qe) {
		return keyErr
	}
	if _, err := q.execute(ctx, "system_powerdown", nil); err != nil {
		return errors.Join(keyErr, err)
	}
	return nil
}

// qmpRepeat sends Ctrl+Alt+Del again and presses the ACPI power button,
// in one session. A machine without a keyboard refuses the keys; the
// button is what counts there.
func qmpRepeat(ctx context.Context, socket string) error {
	q, err := dialQMP(ctx, socket)
	if err != nil {
		return err
	}
	defer q.Close()
	var qe *qmpError
	if err := q.ctrlAltDel(ctx); err != nil && !errors.As(err, &qe) {
		return err
	}
	_, err = q.execute(ctx, "system_powerdown", nil)
	return err
}

// qmpBalloon sets the guest's target RAM and returns its current RAM.
func qmpBalloon(ctx context.Context, socket string, size int64) (int64, error) {
	q, err := dialQMP(ctx, socket)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	if _, err := q.execute(ctx, "balloon", map[string]int64{"value": size * mib}); err != nil {
		return 0, err
	}
	// microvm.nix reads .data.actual of the last line socat printed,
	// which is only a BALLOON_CHANGE event if one arrived in time.
	ret, err := q.execute(ctx, "query-balloon", nil)
	if err != nil {
		return 0, err
	}
	var info struct {
		Actual *int64 `json:"actual"`
	}
	if err := json.Unmarshal(ret, &info); err != nil || info.Actual == nil {
		return 0, fmt.Errorf("query-balloon: unexpected reply %s", ret)
	}
	return *info.Actual / mib, nil
}

// ctxErr prefers ctx's error to the deadline error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

func orMissing(err error, msg string) error {
	if err == nil {
		return errors.New(msg)
	}
	return err
}
