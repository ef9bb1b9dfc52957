package logfile

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkWrite measures one 80-byte console line per Write, with rotation
// off and with a 1 MiB rotation (a rename chain of keep=5 every ~13k lines).
func BenchmarkWrite(b *testing.B) {
	line := []byte(fmt.Sprintf("%-79s\n", "[    1.234567] virtio_blk virtio1: [vda] 4194304 512-byte logical blocks"))
	for _, bc := range []struct {
		name    string
		maxSize int64
	}{{"norotate", 0}, {"rotate1MiB", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			w, err := Open(filepath.Join(b.TempDir(), "console.log"), bc.maxSize, 5)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if _, err := w.Write(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
