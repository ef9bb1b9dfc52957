package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tail(t *testing.T, path string, n int) string {
	t.Helper()
	b, err := Tail(path, n)
	if err != nil {
		t.Fatalf("Tail(%d): %v", n, err)
	}
	return string(b)
}

func TestTail(t *testing.T) {
	path, w := openLog(t, 6, 2)
	writeAll(t, w, "1\n", "2\n", "3\n", "4\n", "5") // "4\n5" in path, "1\n2\n3\n" in path.1
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, "5"},
		{2, "4\n5"},
		{3, "3\n4\n5"},
		{5, "1\n2\n3\n4\n5"},
		{9, "1\n2\n3\n4\n5"}, // fewer lines than n in both files
		{0, "4\n5"},          // whole current file only
		{-1, "4\n5"},
	} {
		if got := tail(t, path, tc.n); got != tc.want {
			t.Errorf("Tail(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestTailFewerLinesNoPrevious(t *testing.T) {
	path, w := openLog(t, 0, 2)
	writeAll(t, w, "a\n", "b\n")
	if got := tail(t, path, 5); got != "a\nb\n" {
		t.Errorf("Tail(5) = %q", got)
	}
	if got := tail(t, path, 1); got != "b\n" {
		t.Errorf("Tail(1) = %q", got)
	}
}

func TestTailEmpty(t *testing.T) {
	path, _ := openLog(t, 0, 2)
	if got := tail(t, path, 3); got != "" {
		t.Errorf("Tail(3) of empty log = %q", got)
	}
}

// More than tailChunk bytes, so the backwards read crosses chunk boundaries.
func TestTailLargeFile(t *testing.T) {
	var all strings.Builder
	for i := range 30000 {
		fmt.Fprintf(&all, "%06d\n", i)
	}
	path := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(path, []byte(all.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 9362, 9363, 20000, 30000, 40000} {
		lines := strings.SplitAfter(all.String(), "\n")
		lines = lines[:len(lines)-1] // SplitAfter leaves an empty tail
		want := strings.Join(lines[max(0, len(lines)-n):], "")
		if got := tail(t, path, n); got != want {
			t.Errorf("Tail(%d): got %d bytes, want %d", n, len(got), len(want))
		}
	}
}

func TestTailMissing(t *testing.T) {
	_, err := Tail(filepath.Join(t.TempDir(), "nope.log"), 3)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Tail of missing log: %v, want fs.ErrNotExist", err)
	}
}
