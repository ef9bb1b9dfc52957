package hostfacts

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// ioUringSince is the first kernel whose io_uring firecracker's Async
// block engine accepts (firecracker docs/api_requests/block-io-engine.md).
var ioUringSince = hypervisor.V(5, 10, 51)

// IOUring reports whether the hypervisors can use io_uring here: a kernel
// from 5.10.51 on, and io_uring_setup succeeding for this process, which
// it does not when io_uring is disabled (sysctl kernel.io_uring_disabled)
// or filtered by seccomp, as in containers with Docker's default profile.
func IOUring() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return kernelHasIOUring(unix.ByteSliceToString(u.Release[:])) && ioUringSetup()
}

// kernelHasIOUring reports whether a kernel release such as
// "6.1.0-18-amd64" or "5.10.51" is new enough.
func kernelHasIOUring(release string) bool {
	v, ok := hypervisor.ParseVersion(release)
	return ok && v.Compare(ioUringSince) >= 0
}

// ioUringSetup creates and closes a one-entry io_uring.
func ioUringSetup() bool {
	var params [120]byte // struct io_uring_params, all zero
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		return false
	}
	os.NewFile(fd, "io_uring").Close()
	return true
}
