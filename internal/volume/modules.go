package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModulesLabel is the file system label of the modules image; guests
// mount it by it: LABEL=microvm-modules /lib/modules ext4 ro,nofail 0 0.
const ModulesLabel = "microvm-modules"

// Modules describes the image of the host's kernel modules for one
// kernel release: a read-only ext4 file system holding RELEASE/, the copy
// of modulesRoot/RELEASE, so that mounted on the guest's /lib/modules it
// gives modprobe what it looks for.
type Modules struct {
	Image       string // path; relative to the working directory (the VM dir)
	ModulesRoot string // the host's /lib/modules
	Release     string // the guest kernel's release, uname -r
}

// EnsureModules makes the modules image unless it exists and is newer
// than the host's modules.dep for the release (a kernel update rewrites
// it), and reports whether it did. It copies the modules and runs
// mkfs.ext4 -d: ext4 is built into distribution kernels, which have
// everything else (ISO 9660, 9p, virtiofs) as modules. The new image
// replaces an old one only once complete.
func EnsureModules(ctx context.Context, m Modules) (created bool, err error) {
	if m.Release == "" || strings.ContainsRune(m.Release, '/') || m.Release == "." || m.Release == ".." {
		return false, fmt.Errorf("modules image %q: %q is not a kernel release", m.Image, m.Release)
	}
	src := filepath.Join(m.ModulesRoot, m.Release)
	dep, err := os.Stat(filepath.Join(src, "modules.dep"))
	if err != nil {
		return false, fmt.Errorf("hostModules: the host has no modules for kernel %s (%w); install them (Debian: linux-image-%s), or leave hostModules out", m.Release, err, m.Release)
	}
	if fi, err := os.Stat(m.Image); err == nil && !fi.ModTime().Before(dep.ModTime()) {
		return false, nil
	}
	dir := filepath.Dir(m.Image)
	tree, err := os.MkdirTemp(dir, "."+filepath.Base(m.Image)+".tree-")
	if err != nil {
		return false, fmt.Errorf("modules image %q: %w", m.Image, err)
	}
	defer os.RemoveAll(tree)
	// cp -a keeps modes and links; owners only when run as root (the VM
	// user's copy has its own uid inside the image, which the read-only
	// mount makes harmless).
	if out, err := exec.CommandContext(ctx, "cp", "-a", src, filepath.Join(tree, m.Release)).CombinedOutput(); err != nil {
		return false, fmt.Errorf("modules image %q: copying %s: %w: %s", m.Image, src, err, strings.TrimSpace(string(out)))
	}
	size, err := treeSize(tree)
	if err != nil {
		return false, fmt.Errorf("modules image %q: %w", m.Image, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(m.Image)+".tmp-")
	if err != nil {
		return false, fmt.Errorf("modules image %q: %w", m.Image, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	tmp.Close()
	// Room for the file system's own metadata (inode tables, journal).
	mib := size>>20 + size>>23 + 16
	args := []string{"-q", "-F", "-L", ModulesLabel, "-d", tree, tmp.Name(), fmt.Sprintf("%dM", mib)}
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", args...).CombinedOutput(); err != nil {
		return false, fmt.Errorf("modules image %q: mkfs.ext4 %s: %w: %s", m.Image, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp.Name(), m.Image); err != nil {
		return false, fmt.Errorf("modules image %q: %w", m.Image, err)
	}
	return true, nil
}

// treeSize is what the files below dir take, each rounded up to 4 KiB
// blocks.
func treeSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += (fi.Size() + 4095) &^ 4095
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	return total, err
}
