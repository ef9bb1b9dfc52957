package preflight

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/printable"
)

// probeTimeout bounds the child: a path on a hung network file system
// must not keep a VM from starting forever.
const probeTimeout = 30 * time.Second

// maxAnswer bounds what is read from the child: a few hundred bytes per
// check, and the child runs as the VM user, who can make it say anything.
const maxAnswer = 1 << 20

// AsUser runs Probe in a child process with cred's uid, gid and groups,
// set by the kernel between fork and exec as for the hypervisor itself:
// exe with args must be a program that calls Serve (the microvm binary's
// hidden verb). Its working directory is "/", and its environment empty.
//
// The VM user can take over that process (ptrace) and make it answer
// anything. What it could gain is nothing: the answer only decides
// whether its own VM starts, and how a refusal reads, escaped.
func AsUser(ctx context.Context, exe string, args []string, cred *syscall.Credential, checks []Check) ([]Finding, error) {
	in, err := json.Marshal(checks)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir, cmd.Env = "/", []string{}
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, n: 4 << 10}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("checking as uid %d: %w", cred.Uid, err)
	}
	var out []Finding
	decErr := json.NewDecoder(io.LimitReader(stdout, maxAnswer)).Decode(&out)
	io.Copy(io.Discard, stdout) // an answer cut short must not block the child
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("checking as uid %d: %s: %w: %s", cred.Uid, exe, err, printable.Text(strings.TrimSpace(stderr.String())))
	}
	if decErr != nil {
		return nil, fmt.Errorf("checking as uid %d: reading the answer: %w", cred.Uid, decErr)
	}
	if len(out) != len(checks) {
		return nil, fmt.Errorf("checking as uid %d: %d answers to %d checks", cred.Uid, len(out), len(checks))
	}
	for i := range out {
		// What was asked is the parent's; only the findings are the
		// child's.
		out[i].Check = checks[i]
	}
	return out, nil
}

// Serve is the child's side of AsUser: it reads the checks from r, runs
// them as the calling process, and writes the findings to w.
func Serve(r io.Reader, w io.Writer) error {
	var checks []Check
	if err := json.NewDecoder(io.LimitReader(r, maxAnswer)).Decode(&checks); err != nil {
		return fmt.Errorf("reading checks: %w", err)
	}
	return json.NewEncoder(w).Encode(Probe(checks))
}

// limitedBuffer keeps the first n bytes written to it and drops the rest,
// without failing the writer.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
