package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/oci/imageref"
)

// FlattenVersion is part of every root disk's name: it changes whenever
// flattening makes different disks of the same image, so that cached
// disks of an older microvm are not used any more.
const FlattenVersion = 1

// Cache is the state directory's cache of root disks and initramfs
// images. Entries are named by what they are made of, written once by
// root, read-only (root:Group 0640: the VM group's hypervisors read
// them, nobody writes them), and never changed; VMs get hard links to
// them (Link), so ten VMs of one image share one disk.
type Cache struct {
	Dir string // STATE/.images; made 0700 when the first entry is ready
	// Locks holds a lock file per entry being built (STATE/.locks).
	Locks string
	// Staging is a directory only root can enter, on the file system of
	// Dir (STATE/.tmp); what is built is staged there under names
	// starting with Prefix and renamed into Dir when complete.
	Staging, Prefix string
	// Group owns the entries (the VM group); -1 leaves them root's.
	Group  int
	Limits Limits
	Log    *slog.Logger
}

// lockRetry is how often a build waits for another one of the same
// entry to finish.
const lockRetry = 100 * time.Millisecond

var digestRE = regexp.MustCompile(`^sha256:([0-9a-f]{64})$`)

// RootDisk returns the root disk of the image that ref names and whose
// config digest is config, flattening it first unless it is cached.
// manifest pins a registry image to the manifest its runner was built
// from. The image read must still have the config digest the runner was
// built with; otherwise the runner is outdated and must be rebuilt.
func (c *Cache) RootDisk(ctx context.Context, ref imageref.Ref, config, manifest string) (string, error) {
	m := digestRE.FindStringSubmatch(config)
	if m == nil {
		return "", fmt.Errorf("flattening %s: config digest %q is not a sha256 digest", ref, config)
	}
	final := filepath.Join(c.Dir, fmt.Sprintf("%s.v%d.ext4", m[1], FlattenVersion))
	err := c.build(ctx, final, func(stage string) (string, error) {
		return c.flatten(ctx, ref, config, manifest, stage)
	})
	if err != nil {
		return "", fmt.Errorf("flattening %s: %w", ref, err)
	}
	return final, nil
}

// build makes final unless it exists, holding a lock per entry: of ten
// VMs starting at once, one builds and nine wait for it. It builds the
// entry (mk) in the staging directory it is given and returns its path.
func (c *Cache) build(ctx context.Context, final string, mk func(stage string) (string, error)) error {
	if _, err := os.Lstat(final); err == nil {
		return nil
	}
	if err := os.MkdirAll(c.Locks, 0o700); err != nil {
		return err
	}
	l := flock.New(filepath.Join(c.Locks, ".image-"+filepath.Base(final)), flock.SetPermissions(0o600))
	if ok, err := l.TryLockContext(ctx, lockRetry); !ok || err != nil {
		return fmt.Errorf("locking %s: %w", final, errors.Join(err, ctx.Err()))
	}
	defer l.Unlock()
	if _, err := os.Lstat(final); err == nil {
		return nil // built while we waited
	}
	if err := os.MkdirAll(c.Staging, 0o700); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(c.Staging, c.Prefix+"image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	built, err := mk(stage)
	if err != nil {
		return err
	}
	if err := c.seal(built); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	if err := os.Rename(built, final); err != nil {
		return err
	}
	return syncDir(c.Dir)
}

// seal makes a built entry read-only and readable by the group, and puts
// it on the disk before it gets its name.
func (c *Cache) seal(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if c.Group >= 0 {
		if err := f.Chown(0, c.Group); err != nil {
			return err
		}
	}
	if err := f.Chmod(0o640); err != nil {
		return err
	}
	return f.Sync()
}

// flatten builds the root disk in stage: the image's layers flattened
// into tree/rootfs, its process in tree/microvm-image.json, both made
// into disk.ext4.
func (c *Cache) flatten(ctx context.Context, ref imageref.Ref, config, manifest, stage string) (string, error) {
	if os.Geteuid() != 0 {
		return "", errors.New("flattening needs root: it keeps the image's owners and device nodes")
	}
	start := time.Now()
	img, err := open(ctx, ref, manifest)
	if err != nil {
		return "", err
	}
	name, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	if name.String() != config {
		return "", fmt.Errorf("it is image %s now, not %s as when the runner was built; rebuild the runner (microvm update) to boot what it is now", name, config)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	proc, err := ProcessOf(cf)
	if err != nil {
		return "", err
	}
	proc.Image, proc.Digest = ref.String(), config
	checked, err := checkImage(img)
	if err != nil {
		return "", err
	}
	tree := filepath.Join(stage, "tree")
	rootfs := filepath.Join(tree, ociinit.RootfsDir)
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return "", err
	}
	if err := extractInto(checked, rootfs, c.limits(rootfs), c.log()); err != nil {
		return "", err
	}
	cfg, err := json.MarshalIndent(proc, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tree, ociinit.ConfigFile), append(cfg, '\n'), 0o644); err != nil {
		return "", err
	}
	disk := filepath.Join(stage, "disk.ext4")
	if err := makeExt4(ctx, tree, disk, "microvm-image", uuidOf(config)); err != nil {
		return "", err
	}
	c.log().Info("flattened image", "image", ref.String(), "config", config, "took", time.Since(start).Round(time.Millisecond))
	return disk, nil
}

// extractInto flattens img into the directory rootfs.
func extractInto(img *checkedImage, rootfs string, lim Limits, log *slog.Logger) error {
	root, err := unix.Open(rootfs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	stream := mutate.Extract(img)
	defer stream.Close()
	err = newExtractor(root, lim, log).extract(stream)
	if err == nil {
		// mutate.Extract ends the tar stream even when a layer failed
		// at its very end (its digest): the failure follows the end.
		_, err = io.Copy(io.Discard, stream)
	}
	if err != nil {
		img.abort()
	}
	if p := img.problem(); p != nil {
		return p
	}
	if err != nil {
		return fmt.Errorf("flattening: %w", err)
	}
	return nil
}

// limits are c.Limits, with MaxBytes cut to what the disk holding dir
// has room for: the files, then the disk made of them.
func (c *Cache) limits(dir string) Limits {
	lim := c.Limits
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil {
		if free := int64(st.Bavail) * st.Bsize / 2; free < lim.MaxBytes {
			lim.MaxBytes = max(free-64<<20, 0)
		}
	}
	return lim
}

func (c *Cache) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// uuidOf makes a file system UUID from a digest, so the same image gets
// the same disk identity.
func uuidOf(digest string) string {
	h := digestRE.FindStringSubmatch(digest)[1]
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Link puts a hard link to the cache entry src into dir as name.
func (c *Cache) Link(src, dir, name string) error {
	return c.place(dir, name, func(tmp string) error {
		if err := os.Link(src, tmp); err != nil {
			return fmt.Errorf("linking %s: %w (the image cache and the VM directories must be on one file system)", src, err)
		}
		return nil
	})
}

// place makes dir/name: mk makes it as tmp, in a staging directory of its
// own, and it is renamed into place, so that whatever is at dir/name (the
// VM user can write dir) is replaced, never followed.
func (c *Cache) place(dir, name string, mk func(tmp string) error) error {
	if err := os.MkdirAll(c.Staging, 0o700); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(c.Staging, c.Prefix+"place-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	tmp := filepath.Join(stage, name)
	if err := mk(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("placing %s: %w", name, err)
	}
	return nil
}
