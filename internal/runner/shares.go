package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/printable"
)

func (l *loader) shares(r *Runner) {
	res, fi, f := l.stat(VirtiofsDir)
	if f != lookupFound || !fi.IsDir() {
		return // a non-directory was reported with the other directories
	}
	entries, err := os.ReadDir(res.abs) // sorted, so Shares is sorted by tag
	if err != nil {
		l.add(VirtiofsDir, 0, err.Error())
		return
	}
	// Two virtiofsd cannot listen on one socket; the second would fail
	// at start, long after the package was accepted.
	sockets := make(map[string]string)
	for _, e := range entries {
		tag := e.Name()
		rel := VirtiofsDir + "/" + tag
		_, fi, f := l.stat(rel)
		if f != lookupFound {
			continue
		}
		if !fi.IsDir() {
			l.add(rel, 0, fmt.Sprintf("is %s; expected only directories, one per share tag", printable.FileKind(fi.Mode())))
			continue
		}
		if err := CheckTag(tag); err != nil {
			l.add(rel, 0, err.Error())
			continue
		}
		src, okSrc := l.readValue(shareFile(tag, shareSource), "the shared directory")
		sock, okSock := l.readValue(shareFile(tag, shareSocket), "the socket path")
		if !okSrc || !okSock {
			continue
		}
		if prev, dup := sockets[filepath.Clean(sock)]; dup {
			l.add(shareFile(tag, shareSocket), 1, fmt.Sprintf("socket %q is also used by share %q", sock, prev))
			continue
		}
		sockets[filepath.Clean(sock)] = tag
		r.Shares = append(r.Shares, Share{Tag: tag, Source: src, Socket: sock})
	}
}

// readValue reads a file holding exactly one line.
func (l *loader) readValue(rel, what string) (string, bool) {
	expect := "one line with " + what
	lines, f := l.readLines(rel, expect)
	switch {
	case f == lookupAbsent:
		l.add(rel, 0, "missing; expected "+expect)
		return "", false
	case f != lookupFound || len(lines) == 0:
		return "", false
	case len(lines) > 1:
		l.add(rel, lines[1].n, "extra line; expected "+expect)
		return "", false
	case lines[0].n != 1:
		return "", false // line 1 was reported
	}
	return lines[0].s, true
}

// system records the target of share/microvm/system without following
// it: the guest system may live in a store this host cannot see.
func (l *loader) system(r *Runner) {
	res, fi, f := l.stat(ShareDir)
	if f != lookupFound || !fi.IsDir() {
		return
	}
	abs := filepath.Join(res.abs, path.Base(SystemLink))
	fi, err := os.Lstat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		l.add(SystemLink, 0, err.Error())
		return
	case fi.Mode()&fs.ModeSymlink == 0:
		l.add(SystemLink, 0, fmt.Sprintf("is %s; expected a symlink to the guest system", printable.FileKind(fi.Mode())))
		return
	}
	target, err := os.Readlink(abs)
	if err != nil {
		l.add(SystemLink, 0, err.Error())
		return
	}
	r.System = target
}
