package trust

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/printable"
)

// User is who root must not let steer it: the VM user, with its groups.
type User struct {
	UID  uint32
	GIDs []uint32 // primary and supplementary
}

// canWrite reports whether u can change the directory or file st: as its
// owner (who can always chmod), through its group, or as anyone.
func (u User) canWrite(st *unix.Stat_t) bool {
	switch {
	case st.Uid == u.UID:
		return true
	case st.Mode&0o002 != 0:
		return true
	case st.Mode&0o020 != 0 && slices.Contains(u.GIDs, st.Gid):
		return true
	}
	return false
}

// canReplace reports whether u can rename, delete or swap the entry st in
// the directory parent: it needs write access to parent, and in a sticky
// directory it must also own the entry or the directory.
func (u User) canReplace(parent, entry *unix.Stat_t) bool {
	if !u.canWrite(parent) {
		return false
	}
	sticky := parent.Mode&unix.S_ISVTX != 0
	return !sticky || entry.Uid == u.UID || parent.Uid == u.UID
}

// maxLinks bounds symlink expansion, like the kernel's ELOOP limit.
const maxLinks = 40

// Resolve resolves path, which must be absolute, the way the kernel would,
// and fails if u could change what it resolves to: if u could replace any
// component — a directory on the way, a symlink, the last entry — because
// it can write the directory holding it. Symlinks are followed only when
// u cannot replace them. It returns the resolved path, free of symlinks;
// since no component can change under u, root may then use it by name.
//
// With mkdir, missing components are created as directories (mode 0755,
// owned by the caller), one at a time through the descriptor of their
// verified parent, so none is created somewhere u redirected.
func Resolve(path string, u User, mkdir bool) (string, error) {
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("%s: not an absolute path", printable.String(path))
	}
	w := &walker{user: u, want: path}
	defer w.close()
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	w.push(root, "/")
	todo := split(path)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		if c == ".." {
			w.pop()
			continue
		}
		fd, st, err := w.open(c, mkdir)
		if err != nil {
			return "", err
		}
		top := w.top()
		if u.canReplace(&top.st, st) {
			unix.Close(fd)
			what := "it"
			if w.child(c) != path {
				what = printable.String(w.child(c))
			}
			return "", untrusted(path, "%s is in %s, which the VM user (uid %d) can write: it could replace %s",
				what, printable.String(top.path), u.UID, what)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(fd, "", buf)
			unix.Close(fd)
			if err != nil {
				return "", &os.PathError{Op: "readlink", Path: w.child(c), Err: err}
			}
			if links++; links > maxLinks {
				return "", &os.PathError{Op: "resolve", Path: path, Err: unix.ELOOP}
			}
			target := string(buf[:n])
			if filepath.IsAbs(target) {
				for len(w.stack) > 1 {
					w.pop()
				}
			}
			todo = append(split(target), todo...)
			continue
		}
		if len(todo) > 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return "", &os.PathError{Op: "resolve", Path: w.child(c), Err: unix.ENOTDIR}
		}
		w.push(fd, w.child(c))
		w.stack[len(w.stack)-1].st = *st
	}
	return w.top().path, nil
}

func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

// walker is the stack of directories Resolve is in, as O_PATH fds.
type walker struct {
	user  User
	want  string
	stack []dirEntry
}

type dirEntry struct {
	fd   int
	path string
	st   unix.Stat_t
}

func (w *walker) push(fd int, path string) {
	e := dirEntry{fd: fd, path: path}
	unix.Fstat(fd, &e.st)
	w.stack = append(w.stack, e)
}

func (w *walker) pop() {
	if len(w.stack) > 1 {
		unix.Close(w.top().fd)
		w.stack = w.stack[:len(w.stack)-1]
	}
}

func (w *walker) top() *dirEntry { return &w.stack[len(w.stack)-1] }

func (w *walker) child(c string) string {
	if p := w.top().path; p != "/" {
		return p + "/" + c
	}
	return "/" + c
}

func (w *walker) close() {
	for _, e := range w.stack {
		unix.Close(e.fd)
	}
}

// open opens the entry c of the current directory without following it,
// creating it as a directory first when it is missing and mkdir is set.
func (w *walker) open(c string, mkdir bool) (int, *unix.Stat_t, error) {
	dir := w.top().fd
	fd, err := unix.Openat(dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT && mkdir {
		if err = unix.Mkdirat(dir, c, 0o755); err == nil || err == unix.EEXIST {
			fd, err = unix.Openat(dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if err != nil {
		return -1, nil, &os.PathError{Op: "open", Path: w.child(c), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, &os.PathError{Op: "stat", Path: w.child(c), Err: err}
	}
	return fd, &st, nil
}
