package guest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkBoot boots a TCG guest per iteration and reports the medians of
// qemu start to ReadyLine and of Ctrl+Alt+Del to qemu's exit, with the
// initramfs size:
//
//	go test -run '^$' -bench Boot -benchtime 5x ./internal/guest/
func BenchmarkBoot(b *testing.B) {
	h := needBoot(b)
	fi, err := os.Stat(h.initrd)
	if err != nil {
		b.Fatal(err)
	}
	var ready, shutdown []time.Duration
	for i := range b.N {
		sock := filepath.Join(b.TempDir(), "qmp.sock")
		m := h.boot(b, "", qmpArgs(sock)...)
		ready = append(ready, waitReady(b, m))
		start := time.Now()
		qmp(b, sock, ctrlAltDel)
		waitExit(b, m)
		shutdown = append(shutdown, time.Since(start))
		b.Logf("run %d: ready %v, shutdown %v", i+1, ready[i], shutdown[i])
	}
	b.ReportMetric(float64(fi.Size()), "initrd-bytes")
	b.ReportMetric(median(ready).Seconds()*1000, "ms-to-ready")
	b.ReportMetric(median(shutdown).Seconds()*1000, "ms-to-exit")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
