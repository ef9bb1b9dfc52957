package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestSweepRemovesOnlyWhatNoLockHolderUses(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	runner := func(s string) string { return writeRunner(t, filepath.Join(t.TempDir(), s), "echo "+s, "") }
	kept := importFor(t, d, "vm", CurrentLink, runner("kept"))

	// Killed commands on dead and on live: their staging directories
	// link entries nothing else does.
	unlockDead, err := d.Lock(ctx, "dead")
	if err != nil {
		t.Fatal(err)
	}
	dead, err := d.Stage("dead")
	if err != nil {
		t.Fatal(err)
	}
	unlockDead() // killed: the kernel drops its lock
	deadEntry := importFor(t, d, "hold", CurrentLink, runner("dead"))
	dead.SetLink(CurrentLink, deadEntry)
	unlock, err := d.Lock(ctx, "live") // a live command on live...
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	live, err := d.Stage("live") // ...staging its VM
	if err != nil {
		t.Fatal(err)
	}
	liveEntry := importFor(t, d, "hold2", CurrentLink, runner("live"))
	live.SetLink(CurrentLink, liveEntry)
	os.RemoveAll(d.VMPath("hold"))
	os.RemoveAll(d.VMPath("hold2"))
	partial := filepath.Join(d.Root, StoreDir, ".tmp-123")
	mustMkdir(t, filepath.Join(partial, "bin"))
	orphan := filepath.Join(d.Root, StoreDir, "0123456789abcdef0123456789abcdef")
	mustMkdir(t, orphan)
	unknown := filepath.Join(d.Root, TmpDir, "not-ours")
	mustMkdir(t, unknown)

	// An import in progress holds the store: nothing of it may go.
	unlockStore, err := d.lockStore(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]bool) {
		t.Helper()
		for p, present := range want {
			if exists(p) != present {
				t.Errorf("%s: %s exists = %v, want %v", when, p, !present, present)
			}
		}
	}
	check("while an import runs", map[string]bool{
		dead.Path: false, live.Path: true, kept: true, liveEntry: true,
		deadEntry: true, partial: true, orphan: true, unknown: true,
	})

	unlockStore()
	if err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	check("with the store free", map[string]bool{
		dead.Path: false, live.Path: true, kept: true, liveEntry: true,
		deadEntry: false, partial: false, orphan: false, unknown: true,
	})
}

func TestSweepLeavesAMissingStateDirAlone(t *testing.T) {
	d := newDir(t)
	if err := d.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if exists(d.Root) {
		t.Fatalf("Sweep created %s", d.Root)
	}
}
