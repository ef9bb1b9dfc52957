package systemdtest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/systemdtest"
)

// transcript runs commands in a container as an administrator would type
// them, and keeps what they typed and saw, for the package test's
// transcript (the file $MICROVM_PACKAGE_TRANSCRIPT names).
type transcript struct {
	t     *testing.T
	c     *systemdtest.Container
	b     strings.Builder
	start time.Time
}

func newTranscript(t *testing.T, c *systemdtest.Container) *transcript {
	tr := &transcript{t: t, c: c, start: time.Now()}
	t.Cleanup(tr.save)
	return tr
}

// note adds a comment line, for what the test checks in between.
func (tr *transcript) note(format string, args ...any) {
	fmt.Fprintf(&tr.b, "# %s\n", fmt.Sprintf(format, args...))
}

// run runs args in the container, records them and their output, and
// fails the test when they fail.
func (tr *transcript) run(args ...string) string {
	tr.t.Helper()
	out, err := tr.try(args...)
	if err != nil {
		tr.t.Fatal(err)
	}
	return out
}

// try is run without failing the test.
func (tr *transcript) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	out, err := tr.c.Run(ctx, args...)
	fmt.Fprintf(&tr.b, "[%5.1fs] $ %s\n%s", time.Since(tr.start).Seconds(), shellQuote(args), out)
	if out != "" && !strings.HasSuffix(out, "\n") {
		tr.b.WriteString("\n")
	}
	if err != nil {
		fmt.Fprintf(&tr.b, "(failed: %v)\n", firstLine(err.Error()))
	}
	return out, err
}

func (tr *transcript) save() {
	text := tr.b.String()
	if tr.t.Failed() {
		text += "# THE TEST FAILED\n"
	}
	p := os.Getenv("MICROVM_PACKAGE_TRANSCRIPT")
	if p == "" {
		tr.t.Logf("transcript (set MICROVM_PACKAGE_TRANSCRIPT=FILE to keep it):\n%s", text)
		return
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		tr.t.Errorf("writing the transcript: %v", err)
		return
	}
	tr.t.Logf("transcript in %s", p)
}

// shellQuote writes args as a shell line.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$*?|&;<>(){}[]#~`") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
