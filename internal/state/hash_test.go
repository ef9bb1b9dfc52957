package state

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sparseFile makes a file of size bytes that holds no data: hashing it
// reads zeros for as long as size says, copying it naively allocates it.
func sparseFile(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

func TestHashStopsWhenCancelled(t *testing.T) {
	dir := writeRunner(t, t.TempDir(), "true", "")
	// 64 GiB of zeros: minutes to hash, so only cancellation ends it soon.
	sparseFile(t, filepath.Join(dir, "big"), 64<<30)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Hash(ctx, dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with a cancelled context = %v, want it to stop with the context's error", err)
	}
}

func TestHashBoundedRefusesLargeTreesUnread(t *testing.T) {
	dir := writeRunner(t, t.TempDir(), "true", "")
	sparseFile(t, filepath.Join(dir, "disk.img"), 2<<30)
	_, err := HashBounded(context.Background(), dir)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 1 GiB (disk.img: 2 GiB)") {
		t.Fatalf("HashBounded over %d bytes = %v, want ErrTooLarge naming disk.img", MaxHashBytes, err)
	}

	many := writeRunner(t, t.TempDir(), "true", "")
	for _, n := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(many, n), nil, 0o644)
	}
	_, err = hashTree(context.Background(), many, hashLimits{bytes: -1, entries: 5})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than 5 files, directories and links") {
		t.Fatalf("hashTree past the entry bound = %v, want ErrTooLarge", err)
	}
	if _, err := HashBounded(context.Background(), many); err != nil {
		t.Fatalf("HashBounded of a small runner = %v", err)
	}
}

func TestHashRefusesSpecialFilesWithoutOpeningThem(t *testing.T) {
	dir := writeRunner(t, t.TempDir(), "true", "")
	// Opening a FIFO for reading blocks until a writer comes: a hash
	// that opened it would hang here.
	if err := syscall.Mkfifo(filepath.Join(dir, "bin/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, hash := range map[string]func(context.Context, string) (string, error){"Hash": Hash, "HashBounded": HashBounded} {
		_, err := hash(context.Background(), dir)
		if err == nil || !strings.Contains(err.Error(), "bin/fifo: a FIFO cannot be part of a runner package") {
			t.Errorf("%s of a runner with a FIFO = %v, want it refused", name, err)
		}
	}
}

func TestOpenRegularRefusesFIFOsAndLinks(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// What hashEntry meets when a file is swapped for a FIFO after the
	// directory was read: refused, not waited on.
	if _, _, err := openRegular(fifo, "fifo"); err == nil || !strings.Contains(err.Error(), "a FIFO cannot be part") {
		t.Errorf("openRegular(FIFO) = %v, want refused", err)
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	if _, _, err := openRegular(filepath.Join(dir, "link"), "link"); err == nil {
		t.Error("openRegular followed a symlink")
	}
}

func TestHashRefusesNonDirectories(t *testing.T) {
	base := t.TempDir()
	dir := writeRunner(t, filepath.Join(base, "runner"), "true", "")
	os.Symlink(dir, filepath.Join(base, "result"))
	_, err := Hash(context.Background(), filepath.Join(base, "result"))
	if err == nil || !strings.Contains(err.Error(), "a symlink; expected a runner package directory") {
		t.Fatalf("Hash of a link to a runner = %v, want refused (callers resolve links)", err)
	}
}

// cancelWriter cancels its context on the first write.
type cancelWriter struct {
	cancel  context.CancelFunc
	written int64
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.cancel()
	w.written += int64(len(p))
	return len(p), nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestCopyNStopsInsideLargeCopies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelWriter{cancel: cancel}
	err := copyN(ctx, w, zeros{}, 1<<40)
	if !errors.Is(err, context.Canceled) || w.written > copyChunk {
		t.Fatalf("copyN cancelled during its first chunk: %v after %d bytes, want context.Canceled after at most %d", err, w.written, copyChunk)
	}
	if err := copyN(context.Background(), io.Discard, strings.NewReader("short"), 10); !errors.Is(err, errChanged) {
		t.Fatalf("copyN of a file that shrank = %v, want errChanged", err)
	}
}
