package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// writeAll writes each chunk through w, failing the test on error.
func writeAll(t *testing.T, w *Writer, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		if n, err := w.Write([]byte(c)); err != nil || n != len(c) {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
}

// generations returns the contents of path, path.1, … up to the first
// missing name.
func generations(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for i := 0; ; i++ {
		b, err := os.ReadFile(rotatedName(path, i))
		if errors.Is(err, fs.ErrNotExist) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
}

func checkGenerations(t *testing.T, path string, want ...string) {
	t.Helper()
	if got := generations(t, path); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("generations = %q, want %q", got, want)
	}
}

func openLog(t *testing.T, maxSize int64, keep int) (string, *Writer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.log")
	w, err := Open(path, maxSize, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return path, w
}

func TestRotateAtExactSize(t *testing.T) {
	path, w := openLog(t, 10, 3)
	writeAll(t, w, "12345", "67890") // exactly maxSize: stays
	checkGenerations(t, path, "1234567890")
	writeAll(t, w, "a") // one byte over: rotates first
	checkGenerations(t, path, "a", "1234567890")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("new file: %v, %v; want mode 0640", fi, err)
	}
}

func TestRotateKeepDropsOldest(t *testing.T) {
	path, w := openLog(t, 4, 2)
	writeAll(t, w, "aaaa", "bbbb", "cccc", "dddd")
	checkGenerations(t, path, "dddd", "cccc", "bbbb")
	if _, err := os.Stat(path + ".3"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("path.3: %v, want it never created", err)
	}
}

func TestRotateHugeWrite(t *testing.T) {
	path, w := openLog(t, 4, 3)
	writeAll(t, w, "0123456789") // into an empty file: no empty generation
	checkGenerations(t, path, "0123456789")
	writeAll(t, w, "ab", "0123456789", "x")
	checkGenerations(t, path, "x", "0123456789", "ab", "0123456789")
}

func TestNoRotationWhenDisabled(t *testing.T) {
	path, w := openLog(t, 0, 3)
	writeAll(t, w, "aaaa", "bbbb")
	checkGenerations(t, path, "aaaabbbb")
}

// A restarted monitor appends and counts what its predecessor wrote.
func TestReopenAppends(t *testing.T) {
	path, w := openLog(t, 6, 2)
	writeAll(t, w, "abc")
	w.Close()
	if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want os.ErrClosed", err)
	}
	w2, err := Open(path, 6, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	writeAll(t, w2, "def", "g")
	checkGenerations(t, path, "g", "abcdef")
}

func TestConcurrentWriters(t *testing.T) {
	const writers, each = 8, 500
	// keep exceeds the number of rotations, so no byte may be dropped.
	path, w := openLog(t, 1024, 64)
	var wg sync.WaitGroup
	var want []string
	for g := range writers {
		for i := range each {
			want = append(want, fmt.Sprintf("w%d-%04d", g, i))
		}
		wg.Go(func() {
			for i := range each {
				if _, err := fmt.Fprintf(w, "w%d-%04d\n", g, i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	gens := generations(t, path)
	if len(gens) < 2 {
		t.Fatalf("%d generations, want rotation to have happened", len(gens))
	}
	total := 0
	var got []string
	for _, g := range gens {
		total += len(g)
		// Whole lines only: a Write is never split across files.
		if len(g) > 1024 || !strings.HasSuffix(g, "\n") {
			t.Errorf("generation of %d bytes ending %q", len(g), g[max(0, len(g)-8):])
		}
		got = append(got, strings.Fields(g)...)
	}
	if wantTotal := writers * each * len("w0-0000\n"); total != wantTotal {
		t.Errorf("total bytes = %d, want %d", total, wantTotal)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lines across generations differ from lines written")
	}
}
