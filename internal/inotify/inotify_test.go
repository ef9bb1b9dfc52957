package inotify

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestEvents watches a real directory: the events name their entries,
// and a read with a past deadline returns rather than waiting.
func TestEvents(t *testing.T) {
	dir := t.TempDir()
	in, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	wd, err := in.Add(dir, unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_DELETE)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, ".b.tmp"), nil, 0o644)
	os.Rename(filepath.Join(dir, ".b.tmp"), filepath.Join(dir, "b"))
	os.Remove(filepath.Join(dir, "a"))
	var got []string
	for len(got) < 4 {
		in.SetReadDeadline(time.Now().Add(10 * time.Second))
		evs, err := in.Read()
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		for _, e := range evs {
			if e.WD != wd || e.Overflow() {
				t.Errorf("event %+v: want watch %d, no overflow", e, wd)
			}
			got = append(got, e.Name)
		}
	}
	if want := []string{"a", ".b.tmp", "b", "a"}; !slices.Equal(got, want) {
		t.Errorf("names %q; want %q", got, want)
	}
	in.SetReadDeadline(time.Now().Add(-time.Second))
	if evs, err := in.Read(); err == nil {
		t.Errorf("Read past its deadline = %+v, nil; want an error", evs)
	}
	if err := in.Remove(wd); err != nil {
		t.Error(err)
	}
}

// TestParseTruncated: a buffer cut inside a name still decodes.
func TestParseTruncated(t *testing.T) {
	b := make([]byte, unix.SizeofInotifyEvent+3)
	b[0] = 7                                             // wd
	binary.NativeEndian.PutUint32(b[4:], unix.IN_CREATE) // mask
	b[12] = 16                                           // name length, longer than what is there
	copy(b[unix.SizeofInotifyEvent:], "abc")
	evs := Parse(b)
	if len(evs) != 1 || evs[0].WD != 7 || evs[0].Name != "abc" || evs[0].Mask != unix.IN_CREATE {
		t.Errorf("Parse = %+v", evs)
	}
}
