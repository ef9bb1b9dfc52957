package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/trust"
)

// ErrExists is returned when creating a VM whose directory already exists.
var ErrExists = errors.New("already exists")

// ErrNotExist is returned for a VM that has no directory.
var ErrNotExist = errors.New("no such VM")

// Dir is a state directory. Methods that only read never create anything,
// so listing a state directory that does not exist is harmless.
type Dir struct {
	Root string // absolute
	// LockTimeout bounds the wait for a VM's lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// Waiting, when set, is told once that a lock is held by another
	// process, and by which, before Lock starts waiting for it.
	Waiting func(msg string)
}

// DefaultLockTimeout is how long Lock waits for another command (a long
// build in update, say) to release a VM.
const DefaultLockTimeout = 10 * time.Minute

// Open returns the state directory at root without touching the disk.
func Open(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("state directory %q: %w", root, err)
	}
	return &Dir{Root: abs}, nil
}

// VMPath is the directory of the VM called name.
func (d *Dir) VMPath(name string) string { return filepath.Join(d.Root, name) }

// Path is an entry (a link or file named in layout.go) of a VM directory.
func (d *Dir) Path(name, entry string) string { return filepath.Join(d.Root, name, entry) }

// Exists reports whether the VM has a directory.
func (d *Dir) Exists(name string) bool {
	fi, err := os.Lstat(d.VMPath(name))
	return err == nil && fi.IsDir()
}

// ensure creates the state directory's own entries; only mutating
// operations call it. Locks and staging are the owner's alone: anyone who
// could open a lock file could hold it and freeze every command on that
// VM, and staged or removed VMs hold the VMs' images.
func (d *Dir) ensure() error {
	for _, e := range []struct {
		path string
		mode os.FileMode
	}{{d.Root, 0o755}, {filepath.Join(d.Root, StoreDir), 0o755}, {filepath.Join(d.Root, LocksDir), 0o700}, {filepath.Join(d.Root, TmpDir), 0o700}} {
		if err := os.MkdirAll(e.path, e.mode); err != nil {
			return fmt.Errorf("preparing state directory: %w", err)
		}
		if e.mode != 0o755 {
			// Directories made by earlier versions were 0755.
			if fi, err := os.Lstat(e.path); err == nil && fi.Mode().Perm() != e.mode && fi.IsDir() {
				if err := os.Chmod(e.path, e.mode); err != nil {
					return fmt.Errorf("preparing state directory: %w", err)
				}
			}
		}
	}
	return nil
}

// lockRetry is how often a blocked lock is retried while waiting.
const lockRetry = 50 * time.Millisecond

// Lock takes the exclusive lock of the VM called name. When another
// process holds it, Lock says so through Waiting, naming that process,
// and waits until ctx is done or LockTimeout passed. The lock file lives
// outside the VM directory so that create can hold it before the
// directory exists and remove while deleting it. Lock also removes
// staging leftovers of that VM from interrupted commands: whoever held the
// lock before us is gone.
func (d *Dir) Lock(ctx context.Context, name string) (unlock func(), err error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := d.ensure(); err != nil {
		return nil, err
	}
	path := filepath.Join(d.Root, LocksDir, name)
	l := flock.New(path, flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if err == nil && !ok {
		holder := lockHolder(path)
		if d.Waiting != nil {
			d.Waiting(fmt.Sprintf("waiting for the lock on VM %q held by %s…", name, holder))
		}
		timeout := d.LockTimeout
		if timeout <= 0 {
			timeout = DefaultLockTimeout
		}
		tctx, cancel := context.WithTimeout(ctx, timeout)
		ok, err = l.TryLockContext(tctx, lockRetry)
		cancel()
		if !ok && ctx.Err() == nil && err != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("locking VM %q: still held by %s after %s", name, holder, timeout)
		}
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("locking VM %q: %w", name, errOr(err, ctx.Err()))
	}
	d.removeStaging(name)
	return func() { l.Unlock() }, nil
}

// lockStore takes the store lock, shared for imports and exclusive for GC.
func (d *Dir) lockStore(ctx context.Context, exclusive bool) (unlock func(), err error) {
	if err := d.ensure(); err != nil {
		return nil, err
	}
	l := flock.New(filepath.Join(d.Root, LocksDir, StoreLock))
	var ok bool
	if exclusive {
		ok, err = l.TryLockContext(ctx, lockRetry)
	} else {
		ok, err = l.TryRLockContext(ctx, lockRetry)
	}
	if err != nil || !ok {
		return nil, fmt.Errorf("locking runner store: %w", errOr(err, ctx.Err()))
	}
	return func() { l.Unlock() }, nil
}

func errOr(err, fallback error) error {
	if err != nil {
		return err
	}
	if fallback != nil {
		return fallback
	}
	return errors.New("lock not acquired")
}

// SetLink points the VM's link at target atomically (symlink + rename), so
// readers see either the old or the new runner, never none. Targets inside
// the state directory are stored relative, keeping the directory movable.
func (d *Dir) SetLink(name, link, target string) error {
	return setLink(d.Root, d.VMPath(name), link, target)
}

func setLink(root, vmDir, link, target string) error {
	if rel, ok := relInside(root, target); ok {
		target = filepath.Join("..", rel)
	}
	if err := renameio.Symlink(target, filepath.Join(vmDir, link)); err != nil {
		return fmt.Errorf("setting %s link of %q: %w", link, filepath.Base(vmDir), err)
	}
	return nil
}

// ReadLink returns the absolute target of a VM's link, or "" when the link
// does not exist.
func (d *Dir) ReadLink(name, link string) (string, error) {
	return readLink(d.VMPath(name), link)
}

// Only links microvm wrote count (see trust.Readlink); others are an
// error matching trust.ErrUntrusted.
func readLink(vmDir, link string) (string, error) {
	t, err := trust.Readlink(filepath.Join(vmDir, link))
	if trust.IsNotExist(err) {
		return "", nil
	}
	if errors.Is(err, trust.ErrUntrusted) {
		return "", err
	}
	if err != nil {
		return "", fmt.Errorf("reading %s link: %w", link, err)
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(vmDir, t)
	}
	return t, nil
}

// RemoveLink removes a VM's link; a missing link is not an error.
func (d *Dir) RemoveLink(name, link string) error {
	err := os.Remove(d.Path(name, link))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s link of %q: %w", link, name, err)
	}
	return nil
}

// relInside returns p relative to root when p is inside root.
func relInside(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

// LogPath is the console log of the VM name; EnsureLogs creates its
// directory, root's.
func (d *Dir) LogPath(name string) string { return filepath.Join(d.Root, LogsDir, name+".log") }

// EnsureLogs creates the logs directory.
func (d *Dir) EnsureLogs() error {
	if err := os.MkdirAll(filepath.Join(d.Root, LogsDir), 0o750); err != nil {
		return fmt.Errorf("preparing state directory: %w", err)
	}
	return nil
}

// RuntimeDir is where console sockets live: $MICROVM_RUNTIME_DIR or
// DefaultRuntimeDir.
func RuntimeDir() string {
	if d := os.Getenv(EnvRuntimeDir); d != "" {
		return d
	}
	return DefaultRuntimeDir
}

// ConsoleSocket is the console socket of the VM name.
func ConsoleSocket(name string) string { return filepath.Join(RuntimeDir(), name+".console") }
