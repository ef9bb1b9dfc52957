package oci

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Limits bound what flattening writes, so that an image cannot fill the
// state directory's disk or take forever.
type Limits struct {
	MaxBytes   int64 // file content of the whole image
	MaxEntries int   // files, directories, links and nodes
}

// DefaultLimits allow the largest images in common use (CUDA images are
// about 10 GiB).
var DefaultLimits = Limits{MaxBytes: 32 << 30, MaxEntries: 2 << 20}

// maxDepth bounds how deep an entry may be: each one is reached by
// opening every directory on its way.
const maxDepth = 128

// xattrPrefix marks extended attributes in PAX records; of those, only
// file capabilities and user attributes are kept.
const xattrPrefix = "SCHILY.xattr."

// extractor writes a flattened image's tar stream below a root
// directory. It runs as root on content nobody vouched for, so it never
// follows a link: every directory on an entry's way is opened with
// O_NOFOLLOW from the root's descriptor, every entry is created relative
// to its parent's descriptor with O_EXCL or the *at call that does not
// follow, and hard links are made to entries found the same way. An
// entry whose name already exists came from a higher layer, which wins
// (as in an overlay mount): it is skipped.
type extractor struct {
	root   int
	limits Limits
	log    *slog.Logger

	bytes   int64
	entries int
	// cached is the last parent directory opened, by path: entries come
	// grouped by directory.
	cachedPath string
	cachedFD   int
	explicit   map[string]bool // directories whose own entry was applied
	dirTimes   []dirTime
	skipped    int
}

type dirTime struct {
	path  string
	mtime time.Time
}

func newExtractor(root int, lim Limits, log *slog.Logger) *extractor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &extractor{root: root, limits: lim, log: log, cachedFD: -1, explicit: map[string]bool{}}
}

func (x *extractor) close() {
	if x.cachedFD >= 0 {
		unix.Close(x.cachedFD)
		x.cachedFD = -1
	}
}

// extract writes every entry of r, then sets the directories' times.
func (x *extractor) extract(r io.Reader) error {
	defer x.close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if x.entries++; x.entries > x.limits.MaxEntries {
			return fmt.Errorf("the image has more than %d entries", x.limits.MaxEntries)
		}
		if err := x.entry(h, tr); err != nil {
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
	}
	// Deepest first: setting a directory's time must come after its
	// children changed it.
	slices.SortStableFunc(x.dirTimes, func(a, b dirTime) int { return strings.Count(b.path, "/") - strings.Count(a.path, "/") })
	for _, d := range x.dirTimes {
		if err := x.setTimes(d.path, d.mtime); err != nil {
			return fmt.Errorf("entry %q: %w", d.path, err)
		}
	}
	if x.skipped > 0 {
		x.log.Debug("entries hidden by higher layers", "count", x.skipped)
	}
	return nil
}

func (x *extractor) entry(h *tar.Header, r io.Reader) error {
	name, ok := inRoot(h.Name)
	if !ok {
		return errors.New("leaves the image's root (..)")
	}
	if n := strings.Count(name, "/") + 1; n > maxDepth {
		return fmt.Errorf("is %d directories deep; at most %d are flattened", n, maxDepth)
	}
	if name == "." {
		if h.Typeflag != tar.TypeDir {
			return errors.New("the image's root is not a directory")
		}
		return x.applyDir(".", h)
	}
	dir, base := path.Split(name)
	parent, err := x.dir(path.Clean(dir))
	if err != nil {
		return err
	}
	mode := uint32(h.Mode) & 0o7777
	switch h.Typeflag {
	case tar.TypeDir:
		err := unix.Mkdirat(parent, base, 0o700)
		if errors.Is(err, unix.EEXIST) {
			var st unix.Stat_t
			if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR || x.explicit[name] {
				x.skipped++
				return nil
			}
		} else if err != nil {
			return err
		}
		return x.applyDir(name, h)
	case tar.TypeReg, tar.TypeRegA:
		return x.file(parent, name, base, h, mode, r)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(h.Linkname, parent, base); err != nil {
			return x.exists(err)
		}
	case tar.TypeLink:
		if err := x.hardLink(parent, base, h); err != nil {
			return err
		}
		return nil // the target's owner, mode and times are the link's
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[h.Typeflag]
		dev := unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))
		if err := unix.Mknodat(parent, base, kind|0o600, int(dev)); err != nil {
			return x.exists(err)
		}
		// Nothing can have replaced the node: only root can write here.
		if err := unix.Fchownat(parent, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := unix.Fchmodat(parent, base, mode, 0); err != nil {
			return err
		}
	default:
		x.log.Debug("skipping an entry of a kind a root file system does not hold", "entry", h.Name, "type", h.Typeflag)
		return nil
	}
	if err := unix.Fchownat(parent, base, h.Uid, h.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return unix.UtimesNanoAt(parent, base, times(h.ModTime), unix.AT_SYMLINK_NOFOLLOW)
}

// exists turns "already there" into a skipped entry.
func (x *extractor) exists(err error) error {
	if errors.Is(err, unix.EEXIST) {
		x.skipped++
		return nil
	}
	return err
}

func (x *extractor) file(parent int, name, base string, h *tar.Header, mode uint32, r io.Reader) error {
	if h.Size < 0 || h.Size > x.limits.MaxBytes-x.bytes {
		return fmt.Errorf("the image's files are more than %d MiB together; at most %d MiB are flattened", (x.bytes+h.Size)>>20, x.limits.MaxBytes>>20)
	}
	fd, err := unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return x.exists(err)
	}
	defer unix.Close(fd)
	w := fdWriter(fd)
	n, err := io.CopyN(w, r, h.Size)
	x.bytes += n
	if err != nil {
		return err
	}
	// chown before chmod: chown clears the setuid and setgid bits.
	if err := unix.Fchown(fd, h.Uid, h.Gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return err
	}
	x.setXattrs(fd, name, h)
	return unix.UtimesNanoAt(parent, base, times(h.ModTime), unix.AT_SYMLINK_NOFOLLOW)
}

// hardLink links base in parent to the entry the header names, found
// from the root without following links. A target a higher layer deleted
// is gone: the link is skipped, as the flattened stream cannot say what
// the file held.
func (x *extractor) hardLink(parent int, base string, h *tar.Header) error {
	target, ok := inRoot(h.Linkname)
	if !ok || target == "." {
		return fmt.Errorf("hard link to %q points outside the image's root", h.Linkname)
	}
	tdir, tbase := path.Split(target)
	tparent, err := x.walk(path.Clean(tdir), false)
	if err == nil {
		defer unix.Close(tparent)
		// Flags 0: a target that is a symlink is linked itself, never
		// followed.
		err = unix.Linkat(tparent, tbase, parent, base, 0)
	}
	switch {
	case errors.Is(err, unix.ENOENT):
		x.log.Warn("skipping a hard link whose target a higher layer deleted", "entry", h.Name, "target", h.Linkname)
		return nil
	case err != nil:
		return x.exists(err)
	}
	return nil
}

func (x *extractor) applyDir(name string, h *tar.Header) error {
	fd, err := x.walk(name, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	x.explicit[name] = true
	if err := unix.Fchown(fd, h.Uid, h.Gid); err != nil {
		return err
	}
	if err := unix.Fchmod(fd, uint32(h.Mode)&0o7777); err != nil {
		return err
	}
	x.setXattrs(fd, name, h)
	x.dirTimes = append(x.dirTimes, dirTime{name, h.ModTime})
	return nil
}

func (x *extractor) setTimes(name string, mtime time.Time) error {
	if name == "." {
		return unix.UtimesNano(fmt.Sprintf("/proc/self/fd/%d", x.root), times(mtime))
	}
	dir, base := path.Split(name)
	fd, err := x.walk(path.Clean(dir), false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.UtimesNanoAt(fd, base, times(mtime), unix.AT_SYMLINK_NOFOLLOW)
}

// setXattrs keeps file capabilities and user attributes; the image's
// security labels are the host's business, not the guest's.
func (x *extractor) setXattrs(fd int, name string, h *tar.Header) {
	keys := make([]string, 0, len(h.PAXRecords))
	for k := range h.PAXRecords {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		attr, ok := strings.CutPrefix(k, xattrPrefix)
		if !ok || (attr != "security.capability" && !strings.HasPrefix(attr, "user.")) {
			continue
		}
		if err := unix.Fsetxattr(fd, attr, []byte(h.PAXRecords[k]), 0); err != nil {
			x.log.Warn("not keeping an extended attribute", "entry", name, "attr", attr, "err", err)
		}
	}
}

// dir returns a descriptor of the directory rel, creating missing
// directories on the way; the extractor owns it.
func (x *extractor) dir(rel string) (int, error) {
	if x.cachedFD >= 0 && x.cachedPath == rel {
		return x.cachedFD, nil
	}
	fd, err := x.walk(rel, true)
	if err != nil {
		return -1, err
	}
	x.close()
	x.cachedPath, x.cachedFD = rel, fd
	return fd, nil
}

// walk opens the directory rel, one component at a time from the root,
// never following a link; with create, missing directories are made
// (root's, 0755, as an image's parents are by convention). The caller
// closes the descriptor.
func (x *extractor) walk(rel string, create bool) (int, error) {
	fd, err := unix.Dup(x.root)
	if err != nil {
		return -1, err
	}
	if rel == "." || rel == "" {
		return fd, nil
	}
	for _, c := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err = unix.Mkdirat(fd, c, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
			return -1, fmt.Errorf("%q in its way is not a directory but a link or file of the image: not writing through it", c)
		case err != nil:
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

func times(t time.Time) []unix.Timespec {
	ts := unix.NsecToTimespec(t.UnixNano())
	return []unix.Timespec{ts, ts}
}

// fdWriter writes to a raw descriptor.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(w), p[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}
