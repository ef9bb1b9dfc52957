package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxLinkHops matches the kernel's limit on nested symlinks (ELOOP).
const maxLinkHops = 40

// absLinkAllowed says where a symlink may leave the package through an
// absolute target: Nix runners link bin/ scripts into other store paths,
// and system points at the guest's toplevel by design.
func absLinkAllowed(rel string) bool {
	return path.Dir(rel) == binDir || rel == SystemLink
}

// linkProblem returns what is wrong with a symlink at rel (a path inside
// the package without symlinks in its parent) pointing at target, or "".
func linkProblem(rel, target string) string {
	if filepath.IsAbs(target) {
		if absLinkAllowed(rel) {
			return ""
		}
		return fmt.Sprintf("symlink to %q; expected a regular file or a relative symlink inside the runner package", target)
	}
	if p := path.Join(path.Dir(rel), target); p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Sprintf("symlink to %q points outside the runner package", target)
	}
	return ""
}

// found says what a lookup met. Only lookupFound carries a result; for
// lookupBad the problem has been reported already.
type found int

const (
	lookupFound found = iota
	lookupAbsent
	lookupBad
)

// resolved is where a package path ends up after following symlinks.
type resolved struct {
	abs    string // path on the host
	inside string // path relative to the root; "" once an absolute link left the package
	// lastLink and lastTarget name the last symlink followed, to blame
	// it when what it leads to does not exist.
	lastLink, lastTarget string
}

// resolve follows rel component by component, refusing every symlink
// linkProblem rejects, so that reading a data file never leaves the package.
func (l *loader) resolve(rel string) (resolved, found) {
	var r resolved
	pending := strings.Split(rel, "/")
	var done []string
	for hops := 0; len(pending) > 0; {
		c := pending[0]
		pending = pending[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) == 0 { // linkProblem refuses such links; stay safe anyway
				l.add(rel, 0, "path points outside the runner package")
				return r, lookupBad
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(done, c)...)
		abs := filepath.Join(l.root, filepath.FromSlash(cur))
		fi, err := os.Lstat(abs)
		if err != nil {
			return r, l.lookupFailed(rel, r, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		target, err := os.Readlink(abs)
		if err != nil {
			l.add(cur, 0, err.Error())
			return r, lookupBad
		}
		if hops++; hops > maxLinkHops {
			l.add(cur, 0, fmt.Sprintf("symlink to %q: %v", target, syscall.ELOOP))
			return r, lookupBad
		}
		if msg := linkProblem(cur, target); msg != "" {
			l.add(cur, 0, msg)
			return r, lookupBad
		}
		r.lastLink, r.lastTarget = cur, target
		if filepath.IsAbs(target) {
			// Outside the package the kernel resolves the rest.
			r.abs = filepath.Join(append([]string{target}, pending...)...)
			return r, lookupFound
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	r.inside = path.Join(done...)
	r.abs = filepath.Join(l.root, filepath.FromSlash(r.inside))
	return r, lookupFound
}

// lookupFailed classifies a failed lookup of rel: plain absence is for
// the caller to judge, anything else is reported here.
func (l *loader) lookupFailed(rel string, r resolved, err error) found {
	switch {
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		l.add(rel, 0, err.Error())
	case r.lastLink != "":
		l.add(r.lastLink, 0, fmt.Sprintf("broken symlink to %q", r.lastTarget))
	default:
		return lookupAbsent
	}
	return lookupBad
}

// stat resolves rel and stats the result, following links outside the
// package too.
func (l *loader) stat(rel string) (resolved, fs.FileInfo, found) {
	r, f := l.resolve(rel)
	if f != lookupFound {
		return r, nil, f
	}
	fi, err := os.Stat(r.abs)
	if err != nil {
		return r, nil, l.lookupFailed(rel, r, err)
	}
	return r, fi, lookupFound
}

// checkLinks applies linkProblem to every symlink in the directories the
// host reads, including files Load otherwise ignores, and reports broken
// ones. depth limits the walk to the layout's nesting.
func (l *loader) checkLinks(rel string, depth int) {
	r, fi, f := l.stat(rel)
	if f != lookupFound || !fi.IsDir() || r.inside == "" {
		return
	}
	entries, err := os.ReadDir(r.abs)
	if err != nil {
		l.add(rel, 0, err.Error())
		return
	}
	for _, e := range entries {
		inside := path.Join(r.inside, e.Name())
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			l.checkLink(inside, filepath.Join(r.abs, e.Name()))
		case e.IsDir() && depth > 0:
			l.checkLinks(inside, depth-1)
		}
	}
}

func (l *loader) checkLink(rel, abs string) {
	target, err := os.Readlink(abs)
	if err != nil {
		l.add(rel, 0, err.Error())
		return
	}
	if msg := linkProblem(rel, target); msg != "" {
		l.add(rel, 0, msg)
		return
	}
	if rel == SystemLink {
		return // the guest system may live in another store
	}
	_, err = os.Stat(abs)
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.add(rel, 0, fmt.Sprintf("broken symlink to %q", target))
	case errors.As(err, &pe):
		l.add(rel, 0, fmt.Sprintf("symlink to %q: %v", target, pe.Err))
	case err != nil:
		l.add(rel, 0, err.Error())
	}
}
