package cli

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
)

// ptyEnv are the variables of the script a command on a pty gets, with
// TERM=xterm-256color.
var ptyEnv = []string{"PATH", "HOME", "TMPDIR", "WORK", "MICROVM_STATE_DIR", "MICROVM_RUNTIME_DIR", "MICROVM_HOST_CONFIG", "NO_COLOR"}

// Size of the terminal pty gives its command.
const ptyCols, ptyRows = 100, 24

// pty PLAY CMD [ARGS...]: run CMD on a new pseudo-terminal and play the
// file PLAY against it, as a person at a terminal would. Its lines:
//
//	expect REGEXP   wait (up to 60 s) until the screen, as a terminal
//	                shows it (an emulator), matches; (?m) is on
//	send TEXT       type TEXT, a Go string without the quotes (\x03 is Ctrl-C)
//	exit CODE       wait (up to 60 s) for CMD to exit with status CODE
//
// A failure shows the screen.
func cmdPty(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: pty PLAY CMD [ARGS...]")
	}
	path, err := exec.LookPath(args[1])
	ts.Check(err)
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = []string{"TERM=xterm-256color"}
	for _, k := range ptyEnv {
		if v := ts.Getenv(k); v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: ptyCols, Rows: ptyRows})
	ts.Check(err)
	t := &ptyTerm{emu: vt.NewEmulator(ptyCols, ptyRows), exited: make(chan struct{})}
	go func() {
		t.err = cmd.Wait()
		close(t.exited)
	}()
	ts.Defer(func() {
		select {
		case <-t.exited:
		default:
			cmd.Process.Kill()
			<-t.exited
		}
		ptmx.Close()
	})
	// What the program prints goes to the emulator; what the emulator
	// answers (cursor position, device attributes) back to the program.
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				t.mu.Lock()
				t.emu.Write(buf[:n])
				t.mu.Unlock()
			}
			if err != nil {
				// Ends the copy of answers below (Emulator.Close would
				// race with its Read).
				if pw, ok := t.emu.InputPipe().(*io.PipeWriter); ok {
					pw.Close()
				}
				return
			}
		}
	}()
	go io.Copy(ptmx, t.emu)

	sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch verb {
		case "expect":
			re, err := regexp.Compile("(?m)" + arg)
			ts.Check(err)
			t.expect(ts, re)
		case "send":
			text, err := strconv.Unquote(`"` + arg + `"`)
			ts.Check(err)
			_, err = io.WriteString(ptmx, text)
			ts.Check(err)
		case "exit":
			code, err := strconv.Atoi(arg)
			ts.Check(err)
			t.exit(ts, code)
		default:
			ts.Fatalf("%s: unknown step %q; expected expect, send or exit", args[0], line)
		}
	}
}

// ptyTerm is the terminal of one pty command.
type ptyTerm struct {
	mu     sync.Mutex
	emu    *vt.Emulator
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// screen is what the terminal shows now, one line each.
func (t *ptyTerm) screen() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.emu.String()
}

func (t *ptyTerm) expect(ts *testscript.TestScript, re *regexp.Regexp) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if re.MatchString(t.screen()) {
			return
		}
		select {
		case <-t.exited:
			if re.MatchString(t.screen()) {
				return
			}
			ts.Fatalf("the command exited (%v) without showing %q; the screen:\n%s", t.err, re, t.screen())
		case <-time.After(50 * time.Millisecond):
		}
	}
	ts.Fatalf("the screen does not show %q after 60 s:\n%s", re, t.screen())
}

func (t *ptyTerm) exit(ts *testscript.TestScript, want int) {
	select {
	case <-t.exited:
	case <-time.After(60 * time.Second):
		ts.Fatalf("still running after 60 s; the screen:\n%s", t.screen())
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(t.err, &ee):
		code = ee.ExitCode()
	case t.err != nil:
		ts.Fatalf("waiting for the command: %v", t.err)
	}
	if code != want {
		ts.Fatalf("exit status %d, want %d; the screen:\n%s", code, want, t.screen())
	}
}
