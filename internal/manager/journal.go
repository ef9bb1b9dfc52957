package manager

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// Logs shows the journal of the VM's units: its console (microvm@'s
// output) and what its helpers logged.
func (m *systemdManager) Logs(ctx context.Context, name string, o LogOptions, w io.Writer) error {
	args := []string{"--no-pager"}
	for _, unit := range append([]string{Unit(name)}, helperUnits(name)...) {
		args = append(args, "--unit="+unit)
	}
	switch {
	case o.Lines > 0:
		args = append(args, fmt.Sprintf("--lines=%d", o.Lines))
	case o.Follow:
		args = append(args, "--lines=all") // -f alone shows only 10
	}
	if o.Follow {
		args = append(args, "--follow")
	}
	err := m.journal(ctx, args, w)
	if ctx.Err() != nil && o.Follow {
		return nil // interrupted while following: the normal end
	}
	if err != nil {
		return fmt.Errorf("logs of %q: %w", name, err)
	}
	return nil
}

// journalctl runs journalctl with args, its output to w.
func journalctl(ctx context.Context, args []string, w io.Writer) error {
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	var stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("journalctl %v: %w: %s", args, err, stderr.String())
	}
	return nil
}

// limitedBuffer keeps the first 4 KiB written to it, for error messages.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
