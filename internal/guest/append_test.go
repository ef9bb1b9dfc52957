package guest

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAppendFiles reads an initramfs with files appended as the kernel
// does: the gzip member, zeros up to a multiple of four bytes, then the
// appended archive, whatever the first one's length.
func TestAppendFiles(t *testing.T) {
	for _, extra := range []int{0, 1, 2, 3} {
		var b bytes.Buffer
		if err := BuildImageInitramfs(&b, ImageOptions{Init: []byte("init")}); err != nil {
			t.Fatal(err)
		}
		// Trailing garbage a gzip reader ignores stands for initramfs
		// images of every length modulo four.
		b.Write(make([]byte, extra))
		base := b.Len()
		files := map[string][]byte{"etc/microvm-process.json": []byte(`{"args":["sh"]}`)}
		if err := AppendFiles(&b, int64(base), files); err != nil {
			t.Fatal(err)
		}
		raw := b.Bytes()
		r := bytes.NewReader(raw)
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatal(err)
		}
		off := len(raw) - r.Len()
		for off < len(raw) && raw[off] == 0 {
			off++
		}
		if off%4 != 0 || off < base {
			t.Fatalf("extra %d: appended archive at offset %d of a %d-byte initramfs; want a multiple of four past it", extra, off, base)
		}
		got, n := parseCPIO(t, raw[off:])
		want := []cpioEntry{
			{name: "etc", mode: modeDir | 0o755},
			{name: "etc/microvm-process.json", mode: modeFile | 0o644, data: `{"args":["sh"]}`},
		}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(cpioEntry{})); diff != "" {
			t.Errorf("extra %d: appended (-want +got):\n%s", extra, diff)
		}
		if off+n != len(raw) {
			t.Errorf("extra %d: %d bytes after the appended archive", extra, len(raw)-off-n)
		}
	}
}
