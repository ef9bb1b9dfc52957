package preflight

import (
	"errors"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/printable"
)

// Problems a Finding can report.
const (
	Denied    = "denied"    // permissions (mode, ACL, a security module)
	Missing   = "missing"   // it, or the directory it would be created in, does not exist
	ReadOnly  = "read-only" // it must be written, and its file system is mounted read-only
	WrongKind = "kind"      // not a directory where one is needed, or not a file or block device
	Writable  = "writable"  // a shared base the VM user could change under other VMs
	Failed    = "failed"    // another error; Err says which
)

// Finding is what the VM user found trying a Check; an empty Problem
// means it can.
type Finding struct {
	Check
	Problem string `json:"problem,omitempty"`
	Err     string `json:"err,omitempty"` // the system's words
	// Blocker is what is in the way: Path itself, a directory on the way
	// the VM user cannot enter, or, for a missing file the runner
	// creates, the directory it goes in. Need is what the VM user lacks
	// on it (r, rw, rx, x or wx); Owner is its owner and mode as the VM
	// user saw them, nil when it could not look.
	Blocker string `json:"blocker,omitempty"`
	Need    string `json:"need,omitempty"`
	Owner   *Owner `json:"owner,omitempty"`
	// Kind is what Path is, for WrongKind ("a directory").
	Kind string `json:"kind,omitempty"`
}

// Owner is a file's owner and permission bits.
type Owner struct {
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Mode uint32 `json:"mode"` // permission, setuid, setgid and sticky bits
}

// Probe tries every check as the calling process's identity. Run it as
// the VM user (AsUser), or in-process when the caller is that user.
func Probe(checks []Check) []Finding {
	out := make([]Finding, 0, len(checks))
	for _, c := range checks {
		out = append(out, probe(c))
	}
	return out
}

func probe(c Check) Finding {
	f := Finding{Check: c}
	err := access(c.Path, c.need())
	switch {
	case err == nil && c.Access == generate.AccessShared && unix.Getuid() != 0 && access(c.Path, "w") == nil:
		// A VM user of root could write anything: only others are
		// told.
		f.Problem, f.Blocker, f.Need = Writable, c.Path, "w"
		var st unix.Stat_t
		if unix.Stat(c.Path, &st) == nil {
			f.Owner = &Owner{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777}
		}
		return f
	case err == nil:
		return checkKind(f)
	case errors.Is(err, unix.ENOENT) && c.Created:
		// The runner creates it: the VM user must be able to create
		// files where it goes.
		dir := filepath.Dir(c.Path)
		switch err := access(dir, "wx"); {
		case err == nil:
			return f
		case errors.Is(err, unix.ENOENT):
			f.Problem, f.Blocker = Missing, dir
			return f
		default:
			return blocked(f, dir, "wx", err)
		}
	case errors.Is(err, unix.ENOENT):
		f.Problem, f.Blocker = Missing, c.Path
		return f
	}
	// A file where a share's directory should be fails X_OK: say what
	// it is rather than blame its mode.
	if k := checkKind(f); k.Problem != "" {
		return k
	}
	return blocked(f, c.Path, c.need(), err)
}

// blocked explains err from trying need on path: which file is in the way
// and who owns it.
func blocked(f Finding, path, need string, err error) Finding {
	f.Err = err.Error()
	switch {
	case errors.Is(err, unix.EROFS):
		f.Problem, f.Blocker, f.Need = ReadOnly, path, need
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		f.Problem, f.Blocker, f.Need = Denied, path, need
		// A directory on the way that cannot be entered denies
		// everything below it; name that one, not the file.
		for _, dir := range ancestors(path) {
			if errors.Is(access(dir, "x"), unix.EACCES) {
				f.Blocker, f.Need = dir, "x"
				break
			}
		}
	default:
		f.Problem, f.Blocker = Failed, path
		return f
	}
	var st unix.Stat_t
	if unix.Stat(f.Blocker, &st) == nil {
		f.Owner = &Owner{UID: st.Uid, GID: st.Gid, Mode: st.Mode & 0o7777}
	}
	return f
}

// checkKind refuses what the hypervisor cannot use although access(2)
// lets it pass: a share that is no directory, or an image or kernel that
// is no regular file or block device (a FIFO would block it).
func checkKind(f Finding) Finding {
	var st unix.Stat_t
	if err := unix.Stat(f.Path, &st); err != nil {
		return f
	}
	mode := fileMode(st.Mode)
	ok := mode.IsRegular() || mode.Type() == fs.ModeDevice
	if f.Access == generate.AccessDir {
		ok = mode.IsDir()
	}
	if !ok {
		f.Problem, f.Blocker, f.Kind = WrongKind, f.Path, printable.FileKind(mode)
	}
	return f
}

// ancestors lists the directories above path, from the root down.
func ancestors(path string) []string {
	var out []string
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		out = append(out, dir)
		if dir == "/" || dir == "." {
			break
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// access is access(2) for need, a string of r, w and x. It checks the
// real ids, which are the effective ones in the VM user's process.
func access(path, need string) error {
	var mode uint32
	for _, c := range need {
		mode |= map[rune]uint32{'r': unix.R_OK, 'w': unix.W_OK, 'x': unix.X_OK}[c]
	}
	return unix.Faccessat(unix.AT_FDCWD, path, mode, 0)
}

// fileMode converts a stat mode to an fs.FileMode's type bits.
func fileMode(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}
