package supervisor

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchFile: writing the file in place, replacing it by rename and
// removing it are each reported once; other files of the directory are
// not.
func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "host.toml")
	if err := os.WriteFile(path, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 10)
	const settle = 50 * time.Millisecond
	if err := WatchFile(ctx, path, settle, func() { changed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	expect := func(what string, want int) {
		t.Helper()
		time.Sleep(4 * settle)
		if got := len(changed); got != want {
			t.Fatalf("%s: %d calls; want %d", what, got, want)
		}
		for len(changed) > 0 {
			<-changed
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "other.toml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("another file written", 0)
	if err := os.WriteFile(path, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("written in place", 1)
	tmp := filepath.Join(dir, ".host.toml.tmp")
	if err := os.WriteFile(tmp, []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expect("replaced by rename", 1)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expect("removed", 1)
	cancel()
	time.Sleep(settle)
	if err := os.WriteFile(path, []byte("d"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect("after the context ended", 0)
}
