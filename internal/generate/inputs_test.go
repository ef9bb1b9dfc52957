package generate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/spec"
)

// TestInputsMustBeRegularFiles: kernel = "/dev/zero" made build read
// forever, a FIFO kernel or initrd blocked it in open; both ignored
// SIGTERM. They are refused before anything is opened.
func TestInputsMustBeRegularFiles(t *testing.T) {
	s, path := parse(t, "")
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	o := Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts}
	kernel := s.Kernel
	for _, tc := range []struct {
		kernel, initrd, want string
	}{
		{"/dev/zero", "", `kernel "/dev/zero" is a character device; expected a regular file`},
		{fifo, "", `kernel "` + fifo + `" is a FIFO; expected a regular file`},
		{kernel, fifo, `initrd "` + fifo + `" is a FIFO; expected a regular file`},
		{filepath.Dir(kernel), "", `kernel "` + filepath.Dir(kernel) + `" is a directory; expected a regular file`},
	} {
		s.Kernel, s.Initrd = tc.kernel, tc.initrd
		if _, err := Runner(t.Context(), s, o); err == nil || err.Error() != tc.want {
			t.Errorf("kernel %q, initrd %q: Runner = %v; want %q", tc.kernel, tc.initrd, err, tc.want)
		}
		// An earlier build's record of the same path does not let it pass.
		prev := []Input{{Path: tc.kernel}, {Path: tc.initrd}}
		if _, err := ExpectedSystem(t.Context(), s, "qemu", facts, o.Microvm, path, prev, nil); err == nil || err.Error() != tc.want {
			t.Errorf("kernel %q, initrd %q: ExpectedSystem = %v; want %q", tc.kernel, tc.initrd, err, tc.want)
		}
	}
}

// TestHashingStopsWhenCancelled: a huge kernel is hashed until the
// context ends, not to its end.
func TestHashingStopsWhenCancelled(t *testing.T) {
	s, path := parse(t, "")
	// 1 TiB of holes: minutes to hash, no disk space.
	if err := os.Truncate(s.Kernel, 1<<40); err != nil {
		t.Skipf("cannot make a 1 TiB sparse file here: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel) // hashing is under way by then
	_, err := Runner(ctx, s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), `hashing kernel "`+s.Kernel+`": `) {
		t.Fatalf("Runner with a cancelled context = %v; want hashing the kernel cancelled", err)
	}
	if _, err := spec.Parse(path); err != nil {
		t.Fatal(err) // the spec itself is fine
	}
}
