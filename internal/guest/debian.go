package guest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/volume"
)

// Debian describes the Debian guest of the distribution test tier: a
// debootstrap'd root file system turned into a qcow2 base image, which
// VMs use through per-VM overlays. The image has no kernel: guests boot
// the host's, with its modules attached by the spec's hostModules.
type Debian struct {
	Suite    string   // "bookworm"
	Mirror   string   // e.g. http://deb.debian.org/debian
	Packages []string // debootstrap --include
	SizeMiB  int      // the root file system's size
}

// DefaultDebian is the tier's guest: what issue 10 asks for, a bookworm
// with systemd, udev, cloud-init and an SSH server. python3-cffi-backend
// is named because debootstrap does not resolve virtual packages:
// python3-cryptography (cloud-init's) depends on python3-cffi-backend-api-*,
// which only it provides, and fails to configure without it.
var DefaultDebian = Debian{
	Suite:    "bookworm",
	Mirror:   "http://deb.debian.org/debian",
	Packages: []string{"systemd-sysv", "udev", "cloud-init", "openssh-server", "python3-cffi-backend"},
	SizeMiB:  2048,
}

// DebianFstab is the guest's /etc/fstab. The modules image must be mounted
// before cloud-init looks for its seed: the seed is ISO 9660, a module in
// Debian's kernels, which mount can only load once /lib/modules is there.
// The device timeout is long because under TCG on a busy host udev can
// take longer than systemd's default to announce the disk; nofail keeps a
// guest without the disk booting.
const DebianFstab = `LABEL=root / ext4 defaults,errors=remount-ro 0 1
LABEL=` + volume.ModulesLabel + ` /lib/modules ext4 ro,nofail,x-systemd.device-timeout=90s,x-systemd.before=cloud-init-local.service 0 0
`

// debianCloudCfg makes cloud-init look for the NoCloud seed only, instead
// of probing every cloud's metadata service first (slow under TCG).
const debianCloudCfg = "datasource_list: [NoCloud, None]\n"

// debianRecipe changes whenever the image is made differently for the same
// Debian fields, so that the cache key changes with it.
const debianRecipe = "microvm-debian/1"

// key is the cache key: everything the image is made from.
func (d Debian) key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%d\n%s\n%s", debianRecipe, d.Suite, d.Mirror, strings.Join(d.Packages, ","), d.SizeMiB, DebianFstab, debianCloudCfg)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ImagePath is where the base image of d is cached in cacheDir.
func (d Debian) ImagePath(cacheDir string) string {
	return filepath.Join(cacheDir, "debian-"+d.Suite+"-"+d.key()+".qcow2")
}

// MirrorReachable reports, within timeout, whether the mirror serves the
// suite's Release file; the reason when it does not.
func (d Debian) MirrorReachable(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := strings.TrimRight(d.Mirror, "/") + "/dists/" + d.Suite + "/Release"
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("debootstrap's mirror is unreachable: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("debootstrap's mirror answered %s for %s", resp.Status, url)
	}
	return nil
}

// Build returns the cached base image of d in cacheDir, making it first
// when there is none: debootstrap, the guest's configuration, a raw ext4
// image of the tree (mkfs.ext4 -d), converted to qcow2. It needs root
// (debootstrap chroots) and debootstrap, mkfs.ext4 and qemu-img. Concurrent
// callers wait for one build; a failed or interrupted build leaves only
// its downloaded packages (cacheDir/debs), which the next one reuses.
func (d Debian) Build(ctx context.Context, cacheDir string, log *slog.Logger) (path string, err error) {
	path = d.ImagePath(cacheDir)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Join(cacheDir, "debs"), 0o755); err != nil {
		return "", err
	}
	lock := flock.New(filepath.Join(cacheDir, ".lock"))
	if _, err := lock.TryLockContext(ctx, time.Second); err != nil {
		return "", fmt.Errorf("locking %s: %w", cacheDir, err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil // built by another caller meanwhile
	}
	tmp, err := os.MkdirTemp(cacheDir, ".build-")
	if err != nil {
		return "", err
	}
	defer removeBuildDir(tmp, log)
	start := time.Now()
	root := filepath.Join(tmp, "root")
	args := []string{"--include=" + strings.Join(d.Packages, ","), "--cache-dir=" + filepath.Join(cacheDir, "debs"), d.Suite, root, d.Mirror}
	log.Info("debootstrap", "args", args)
	if err := run(ctx, "debootstrap", args...); err != nil {
		if b, rerr := os.ReadFile(filepath.Join(root, "debootstrap/debootstrap.log")); rerr == nil {
			err = fmt.Errorf("%w\ndebootstrap.log ends:\n%s", err, tail(b, 4096))
		}
		return "", err
	}
	if err := d.configure(root); err != nil {
		return "", fmt.Errorf("configuring %s: %w", root, err)
	}
	raw := filepath.Join(tmp, "root.img")
	if err := run(ctx, "mkfs.ext4", "-q", "-L", "root", "-d", root, raw, fmt.Sprintf("%dM", d.SizeMiB)); err != nil {
		return "", err
	}
	out := filepath.Join(tmp, "base.qcow2")
	if err := run(ctx, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out); err != nil {
		return "", err
	}
	if err := os.Chmod(out, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(out, path); err != nil {
		return "", err
	}
	log.Info("built the Debian base image", "path", path, "took", time.Since(start).Round(time.Second))
	// Images of earlier recipes or package lists are not used any more.
	old, _ := filepath.Glob(filepath.Join(cacheDir, "debian-"+d.Suite+"-*.qcow2"))
	for _, p := range old {
		if p != path {
			os.Remove(p)
		}
	}
	return path, nil
}

// configure makes the debootstrap'd tree a guest: fstab, cloud-init's
// data source, and nothing that must differ between VMs (machine id, SSH
// host keys: systemd and cloud-init make them at first boot).
func (d Debian) configure(root string) error {
	write := func(rel, content string) error {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o644)
	}
	if err := write("etc/fstab", DebianFstab); err != nil {
		return err
	}
	if err := write("etc/cloud/cloud.cfg.d/90-microvm.cfg", debianCloudCfg); err != nil {
		return err
	}
	if err := write("etc/machine-id", ""); err != nil {
		return err
	}
	keys, _ := filepath.Glob(filepath.Join(root, "etc/ssh/ssh_host_*"))
	for _, rel := range append(keys, filepath.Join(root, "var/lib/dbus/machine-id")) {
		if err := os.Remove(rel); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	debs, _ := filepath.Glob(filepath.Join(root, "var/cache/apt/archives/*.deb"))
	for _, p := range debs {
		os.Remove(p)
	}
	return nil
}

// removeBuildDir removes a build directory, unmounting first whatever an
// interrupted debootstrap left mounted inside it (proc, sysfs): removing
// through a mount would reach the host's files.
func removeBuildDir(dir string, log *slog.Logger) {
	mounts, err := mountsBelow(dir)
	if err != nil {
		log.Warn("not removing the build directory", "dir", dir, "err", err)
		return
	}
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			log.Warn("not removing the build directory", "dir", dir, "mount", m, "err", err)
			return
		}
	}
	os.RemoveAll(dir)
}

// mountsBelow lists the mount points inside dir, deepest first.
func mountsBelow(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}

// run runs a command, its output in the error.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(out, 4096))
	}
	return nil
}

// tail is the last n bytes of b, trimmed.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.TrimSpace(b)
}
