// Package volume creates a VM's disk images on first start. Creation is
// idempotent and never destructive: an existing image is left alone, never
// resized or reformatted, and a new one appears under its name only once
// it is complete (microvm.nix's createVolumesScript could leave a
// half-formatted image behind when interrupted).
package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxSizeMiB is the largest image size in MiB: a Linux file ends at
// MAX_LFS_FILESIZE, 2^63-1 bytes (include/linux/fs.h), so this is just
// under 8 EiB. It also keeps the conversion to bytes from overflowing:
// 2^44 MiB wrapped around to a 0-byte image before.
const MaxSizeMiB = math.MaxInt64 >> 20

// CheckSize reports whether mib is an image size Ensure can create.
func CheckSize(mib int) error {
	if mib < 1 || mib > MaxSizeMiB {
		return fmt.Errorf("%d MiB is not an image size; expected 1 to %d MiB (the largest file Linux has)", mib, MaxSizeMiB)
	}
	return nil
}

// Spec describes an image to create.
type Spec struct {
	Image    string // path; relative to the working directory (the VM dir)
	SizeMiB  int
	FsType   string // ext2|ext3|ext4|xfs|btrfs|vfat
	Label    string
	MkfsArgs []string
}

// labelFlag is mkfs's label option per file system (microvm.nix §5.2).
var labelFlag = map[string]string{"ext2": "-L", "ext3": "-L", "ext4": "-L", "xfs": "-L", "btrfs": "-L", "vfat": "-n"}

// Ensure creates the image unless it exists. It reports whether it did.
func Ensure(ctx context.Context, s Spec) (created bool, err error) {
	// Bad arguments are refused even when the image exists: the same
	// call would fail on the first start of another VM.
	flag, ok := labelFlag[s.FsType]
	if !ok {
		return false, fmt.Errorf("volume %q: unknown file system %q; expected one of ext2, ext3, ext4, xfs, btrfs, vfat", s.Image, s.FsType)
	}
	if err := CheckSize(s.SizeMiB); err != nil {
		return false, fmt.Errorf("volume %q: size %w", s.Image, err)
	}
	if _, err := os.Lstat(s.Image); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("volume %q: %w", s.Image, err)
	}
	dir := filepath.Dir(s.Image)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(s.Image)+".tmp-")
	if err != nil {
		return false, fmt.Errorf("volume %q: %w", s.Image, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	// No copy-on-write for images on btrfs (chattr +C); only possible
	// while the file is empty, and not supported everywhere.
	setNoCOW(tmp)
	if err := tmp.Truncate(int64(s.SizeMiB) << 20); err != nil {
		tmp.Close()
		return false, fmt.Errorf("volume %q: %w", s.Image, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("volume %q: %w", s.Image, err)
	}
	args := []string{}
	if s.Label != "" {
		args = append(args, flag, s.Label)
	}
	args = append(args, s.MkfsArgs...)
	args = append(args, tmp.Name())
	mkfs := "mkfs." + s.FsType
	var out bytes.Buffer
	c := exec.CommandContext(ctx, mkfs, args...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return false, fmt.Errorf("volume %q: %s %s: %w: %s", s.Image, mkfs, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	// Link, not rename: it fails instead of replacing an image that
	// appeared meanwhile.
	if err := os.Link(tmp.Name(), s.Image); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("volume %q: %w", s.Image, err)
	}
	return true, nil
}

// fsNoCOWFlag is FS_NOCOW_FL from linux/fs.h (not in x/sys/unix).
const fsNoCOWFlag = 0x00800000

func setNoCOW(f *os.File) {
	flags, err := unix.IoctlGetInt(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return
	}
	unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, flags|fsNoCOWFlag)
}
