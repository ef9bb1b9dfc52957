package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/microvm-host/microvm/internal/state"
)

func TestRunnerSourceLinksResolveAtBuildTime(t *testing.T) {
	dir := t.TempDir()
	runner := filepath.Join(dir, "built")
	os.MkdirAll(filepath.Join(runner, "bin"), 0o755)
	os.WriteFile(filepath.Join(runner, "bin/microvm-run"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("built", filepath.Join(dir, "result"))
	src := state.Source{Kind: state.SourceRunner, Ref: filepath.Join(dir, "result")}
	b := &Builder{}
	ctx := context.Background()

	got, err := b.Build(ctx, src, "vm", t.TempDir())
	if err != nil || got != runner {
		t.Fatalf("Build(link) = %q, %v; want the runner it resolves to, %q", got, err, runner)
	}
	exp, err := b.Expect(ctx, src, "vm", "", false)
	want, _ := state.Hash(ctx, runner)
	if err != nil || exp.Hash != want {
		t.Fatalf("Expect(link) = %+v, %v; want the hash of %s, %s", exp, err, runner, want)
	}

	// list's bound: a large file is not read.
	f, _ := os.Create(filepath.Join(runner, "disk.img"))
	f.Truncate(state.MaxHashBytes + 1)
	f.Close()
	if _, err := b.Expect(ctx, src, "vm", "", false); !errors.Is(err, state.ErrTooLarge) {
		t.Fatalf("Expect of a runner with a large file = %v, want ErrTooLarge", err)
	}
}
