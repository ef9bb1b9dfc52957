package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// StopRequest is the optional body of POST /v1/vms/NAME/stop: the
// ladder's times as Go durations ("40s", "1m30s"); a field left out (or
// no body) means host.toml's time for the VM. `microvm stop --timeout`
// and its other flags send it, so that the daemon stops the way the
// command line says.
type StopRequest struct {
	Timeout   string `json:"timeout,omitempty"`
	Resend    string `json:"resend,omitempty"`
	KillAfter string `json:"killAfter,omitempty"`
}

// StopReply is the answer to a stop: how the run ended.
type StopReply struct {
	Name    string             `json:"name"`
	Done    string             `json:"done"`
	Outcome supervisor.Outcome `json:"outcome"`
}

// NewStopRequest writes the non-zero steps of l.
func NewStopRequest(l supervisor.Ladder) StopRequest {
	text := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return StopRequest{Timeout: text(l.Timeout), Resend: text(l.Resend), KillAfter: text(l.KillAfter)}
}

// Ladder reads the request; zero steps are the daemon's to fill.
func (r StopRequest) Ladder() (supervisor.Ladder, error) {
	var l supervisor.Ladder
	for _, f := range []struct {
		key, text string
		d         *time.Duration
	}{{"timeout", r.Timeout, &l.Timeout}, {"resend", r.Resend, &l.Resend}, {"killAfter", r.KillAfter, &l.KillAfter}} {
		if f.text == "" {
			continue
		}
		d, err := time.ParseDuration(f.text)
		if err != nil || d <= 0 {
			return l, &kindError{ErrBadRequest, fmt.Sprintf("stop request: %s %q: expected a positive duration like \"40s\"", f.key, f.text)}
		}
		*f.d = d
	}
	return l, nil
}

// readStopRequest decodes the body strictly: one JSON object of known
// keys, or nothing.
func readStopRequest(body io.Reader) (supervisor.Ladder, error) {
	b, err := io.ReadAll(body) // bounded by guard
	if err != nil {
		return supervisor.Ladder{}, &kindError{ErrBadRequest, fmt.Sprintf("reading the stop request: %v", err)}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return supervisor.Ladder{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r StopRequest
	if err := dec.Decode(&r); err != nil {
		return supervisor.Ladder{}, &kindError{ErrBadRequest, fmt.Sprintf("stop request: %v; expected {\"timeout\": \"40s\", \"resend\": \"15s\", \"killAfter\": \"10s\"}, each optional", err)}
	}
	if dec.More() {
		return supervisor.Ladder{}, &kindError{ErrBadRequest, "stop request: more than one JSON value"}
	}
	return r.Ladder()
}
