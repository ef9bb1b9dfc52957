package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// FromBase describes an image made from a base image on first start.
type FromBase struct {
	Image string // path; relative to the working directory (the VM dir)
	Base  string // absolute: the overlay records it as its backing file
	// Convert makes a full raw copy of the base instead of a qcow2
	// overlay, for hypervisors without qcow2 backing files.
	Convert bool
	// SizeMiB grows the image beyond the base's size; 0 keeps it.
	SizeMiB int
}

// EnsureFromBase makes the image from its base unless it exists, and
// reports whether it did: a qcow2 overlay (qemu-img create -f qcow2 -F FMT
// -b BASE), whose writes stay in the overlay while the base is only read,
// so many VMs share one base; or with Convert a raw copy (qemu-img
// convert -O raw). Like Ensure it never touches an existing image, and a
// new one appears under its name only once complete. The base must be a
// raw or qcow2 image that Probe accepts, and must never change afterwards:
// an overlay's data is only meaningful on top of the base it was made on.
func EnsureFromBase(ctx context.Context, b FromBase) (created bool, err error) {
	if !filepath.IsAbs(b.Base) {
		return false, fmt.Errorf("volume %q: base %q is not absolute", b.Image, b.Base)
	}
	if b.SizeMiB != 0 {
		if err := CheckSize(b.SizeMiB); err != nil {
			return false, fmt.Errorf("volume %q: size %w", b.Image, err)
		}
	}
	if _, err := os.Lstat(b.Image); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("volume %q: %w", b.Image, err)
	}
	base, err := Probe(b.Base)
	if err != nil {
		return false, fmt.Errorf("volume %q: base %q: %w", b.Image, b.Base, err)
	}
	size := int64(b.SizeMiB) << 20
	if size != 0 && size < base.Size {
		return false, fmt.Errorf("volume %q: size %d MiB is smaller than its base %q (%d MiB); leave size out, or make it at least the base's", b.Image, b.SizeMiB, b.Base, (base.Size+1<<20-1)>>20)
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.Image), "."+filepath.Base(b.Image)+".tmp-")
	if err != nil {
		return false, fmt.Errorf("volume %q: %w", b.Image, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once linked
	tmp.Close()
	if b.Convert {
		err = qemuImg(ctx, "convert", "-q", "-f", base.Format, "-O", Raw, b.Base, tmp.Name())
		if err == nil && size > base.Size {
			err = os.Truncate(tmp.Name(), size)
		}
	} else {
		args := []string{"create", "-q", "-f", Qcow2, "-F", base.Format, "-b", b.Base, tmp.Name()}
		if size != 0 {
			args = append(args, strconv.FormatInt(size, 10))
		}
		err = qemuImg(ctx, args...)
	}
	if err != nil {
		return false, fmt.Errorf("volume %q from base %q: %w", b.Image, b.Base, err)
	}
	// Link, not rename: it fails instead of replacing an image that
	// appeared meanwhile.
	if err := os.Link(tmp.Name(), b.Image); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("volume %q: %w", b.Image, err)
	}
	return true, nil
}

// qemuImg runs qemu-img, its output in the error.
func qemuImg(ctx context.Context, args ...string) error {
	var out bytes.Buffer
	c := exec.CommandContext(ctx, "qemu-img", args...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("qemu-img is not installed (Debian package qemu-utils): %w", err)
		}
		return fmt.Errorf("qemu-img %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
