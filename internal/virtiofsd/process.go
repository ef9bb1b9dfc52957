package virtiofsd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Output of a daemon is logged line by line; these bound what is kept.
const (
	maxLine   = 4096 // longer lines are truncated
	tailLines = 10   // kept for error messages
)

// proc is one run of one daemon, in its own process group so that the
// sandbox child the daemon forks is signalled along with it.
type proc struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed once reaped; err is then set
	err     error
	logged  chan struct{} // closed when the output pipe is drained
	ready   atomic.Bool   // listening, socket group applied

	mu   sync.Mutex
	tail []string
}

// spawn starts args. It always returns a proc: one that failed to start is
// already exited, so callers handle both cases alike.
func spawn(args []string, log *slog.Logger) *proc {
	p := &proc{started: time.Now(), exited: make(chan struct{}), logged: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		p.fail(err)
		return p
	}
	// A pipe of our own, not exec's copying goroutine: Wait must return
	// when the daemon exits even if a straggler still holds the pipe.
	p.cmd.Stdout, p.cmd.Stderr = w, w
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		p.fail(fmt.Errorf("starting %q: %w", args, err))
		return p
	}
	log = log.With("pid", p.cmd.Process.Pid)
	log.Info("started virtiofsd", "args", args)
	go p.copyOutput(r, log)
	go func() {
		err := p.cmd.Wait()
		p.err = err
		close(p.exited)
	}()
	return p
}

func (p *proc) fail(err error) {
	p.err = err
	close(p.exited)
	close(p.logged)
}

func (p *proc) pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// copyOutput logs the daemon's output and keeps its last lines.
func (p *proc) copyOutput(r io.ReadCloser, log *slog.Logger) {
	defer close(p.logged)
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, more, err := br.ReadLine()
		text := string(line)
		if more {
			text += " [truncated]"
			for more && err == nil {
				_, more, err = br.ReadLine()
			}
		}
		if text != "" {
			log.Info("virtiofsd output", "line", text)
			p.mu.Lock()
			p.tail = append(p.tail, text)
			if len(p.tail) > tailLines {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// exitError describes how the daemon ended, with its last output. The
// output is read by another goroutine, which may still be draining the
// pipe when the exit is seen: wait for it, briefly (a straggler child may
// hold the pipe open).
func (p *proc) exitError() error {
	select {
	case <-p.logged:
	case <-time.After(time.Second):
	}
	p.mu.Lock()
	tail := strings.Join(p.tail, "; ")
	p.mu.Unlock()
	err := p.err
	if err == nil {
		err = errors.New("exited with status 0")
	}
	if tail == "" {
		return fmt.Errorf("%v: %w", p.cmd.Args, err)
	}
	return fmt.Errorf("%v: %w; output: %s", p.cmd.Args, err, tail)
}

// terminate sends SIGTERM to the process group, SIGKILL after grace, and
// waits until the daemon is reaped and its output drained. It reports
// whether SIGKILL was needed.
func (p *proc) terminate(grace time.Duration) (killed bool) {
	if p.pid() == 0 {
		return false
	}
	signal := func(sig syscall.Signal) { _ = syscall.Kill(-p.pid(), sig) }
	if !p.hasExited() {
		signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			killed = true
			signal(syscall.SIGKILL)
			<-p.exited
		}
	}
	// A straggler (the sandbox child) keeps the group and the output pipe
	// alive after the leader is gone. Only then is the group killed: once
	// empty, its id could in theory name someone else's group.
	select {
	case <-p.logged:
		return killed
	case <-time.After(100 * time.Millisecond):
	}
	signal(syscall.SIGKILL)
	select {
	case <-p.logged:
	case <-time.After(grace):
	}
	return killed
}
