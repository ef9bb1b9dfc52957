package state

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRetire: the VM leaves the state directory in one rename, its data
// stays under RemovedDir without the records, and GC then collects the
// runner only it used.
func TestRetire(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	src := filepath.Join(t.TempDir(), "runner")
	mustMkdir(t, filepath.Join(src, "bin"))
	if err := os.WriteFile(filepath.Join(src, "bin/microvm-run"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	stage, err := d.Stage("web")
	if err != nil {
		t.Fatal(err)
	}
	runner, release, err := d.Import(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := stage.SetLink(CurrentLink, runner); err != nil {
		t.Fatal(err)
	}
	if err := WriteSource(stage.Path, Source{Kind: SourceRunner, Ref: src}); err != nil {
		t.Fatal(err)
	}
	if err := stage.SetOwner(OwnerApply); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(stage.Path, "share"))
	if err := os.WriteFile(filepath.Join(stage.Path, "share/data"), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := stage.Commit(-1); err != nil {
		t.Fatal(err)
	}
	release()

	at := time.Date(2026, 12, 2, 1, 2, 3, 0, time.UTC)
	dst, err := d.Retire("web", at)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(d.Root, RemovedDir, "web-20261202T010203Z"); dst != want {
		t.Errorf("data went to %s; want %s", dst, want)
	}
	if d.Exists("web") {
		t.Error("the VM still exists")
	}
	if vms, _ := d.List(); len(vms) != 0 {
		t.Errorf("List after Retire: %+v", vms)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "share/data")); err != nil || string(b) != "keep me" {
		t.Errorf("data: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(dst)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, []string{"share"}) {
		t.Errorf("retired directory holds %q; want only the data (share)", left)
	}
	removed, err := d.GC(ctx)
	if err != nil || len(removed) != 1 {
		t.Errorf("GC removed %q, %v; want the retired VM's runner", removed, err)
	}

	// The same name again within the same second gets a place of its own.
	mustMkdir(t, d.VMPath("web"))
	if dst2, err := d.Retire("web", at); err != nil || dst2 != dst+".2" {
		t.Errorf("second Retire: %s, %v; want %s.2", dst2, err, dst)
	}
	if _, err := d.Retire("web", at); err == nil {
		t.Error("retiring a missing VM succeeded")
	}
}
