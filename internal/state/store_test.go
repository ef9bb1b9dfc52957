package state

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// allocated is what p takes on disk.
func allocated(t *testing.T, p string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func TestImportKeepsHoles(t *testing.T) {
	d := newDir(t)
	src := writeRunner(t, filepath.Join(t.TempDir(), "r"), "true", "")
	const size = 64 << 20
	p := filepath.Join(src, "share/disk.img")
	sparseFile(t, p, size)
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt([]byte("head"), 1<<20)
	f.WriteAt([]byte("tail"), size-4)
	f.Close()
	if a := allocated(t, p); a > 1<<20 {
		t.Skipf("the test's file system keeps no holes (%d bytes allocated)", a)
	}

	entry := importFor(t, d, "vm", CurrentLink, src)
	got := filepath.Join(entry, "share/disk.img")
	if a := allocated(t, got); a > 1<<20 {
		t.Errorf("a %d-byte sparse file takes %d bytes in the store, want its holes kept", int64(size), a)
	}
	fi, err := os.Stat(got)
	if err != nil || fi.Size() != size {
		t.Fatalf("stored size = %v (%v), want %d", fi.Size(), err, size)
	}
	b := make([]byte, 4)
	g, _ := os.Open(got)
	defer g.Close()
	for off, want := range map[int64]string{1 << 20: "head", size - 4: "tail", 0: "\x00\x00\x00\x00", 40 << 20: "\x00\x00\x00\x00"} {
		if _, err := g.ReadAt(b, off); err != nil || !bytes.Equal(b, []byte(want)) {
			t.Errorf("stored bytes at %d = %q (%v), want %q", off, b, err, want)
		}
	}
}

func TestImportStopsWhenCancelledAndLeavesNothing(t *testing.T) {
	d := newDir(t)
	src := writeRunner(t, filepath.Join(t.TempDir(), "r"), "true", "")
	sparseFile(t, filepath.Join(src, "big"), 64<<30) // minutes to hash
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := d.Import(ctx, src); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Import with a cancelled context = %v, want the context's error", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(d.Root, StoreDir)); len(entries) != 0 {
		t.Fatalf("interrupted import left %v in the store", entries)
	}

	// Copying stops too (inside large files: see TestCopyNStopsInsideLargeCopies).
	small := writeRunner(t, filepath.Join(t.TempDir(), "s"), "true", "")
	cctx, ccancel := context.WithCancel(context.Background())
	tmp := filepath.Join(d.Root, StoreDir, ".tmp-x")
	mustMkdir(t, tmp)
	ccancel()
	if err := copyTree(cctx, small, tmp); !errors.Is(err, context.Canceled) {
		t.Fatalf("copyTree with a cancelled context = %v", err)
	}
}

func TestImportReleaseDropsWhatNothingLinks(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	src := writeRunner(t, filepath.Join(t.TempDir(), "r"), "true", "")

	// A command that gave up after importing (Ctrl-C before its link).
	p, release, err := d.Import(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("entry %s nobody linked survived release: %v", p, err)
	}

	// Another import runs meanwhile: it may be about to link the same
	// entry, so the entry stays until a Sweep finds the store free.
	p, release, err = d.Import(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	other, releaseOther, err := d.Import(ctx, writeRunner(t, filepath.Join(t.TempDir(), "o"), "other", ""))
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Lstat(p); err != nil {
		t.Fatalf("entry removed while another import held the store: %v", err)
	}
	releaseOther()
	if _, err := os.Lstat(other); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("entry %s nobody linked survived release: %v", other, err)
	}
	if err := d.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Sweep left the unlinked entry %s", p)
	}

	// Linked before release, as commands do: kept.
	if p := importFor(t, d, "vm", CurrentLink, src); !exists(p) {
		t.Fatalf("linked entry %s was removed", p)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
