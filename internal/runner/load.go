package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// loader holds the state of one Load.
type loader struct {
	problems
	root string
}

// Load reads and validates the runner package in dir. It reports every
// problem it finds, as *Error values joined with errors.Join, and returns
// a nil Runner when there is any. It does not read bin/ scripts, so it is
// cheap enough to call for every VM.
func Load(dir string) (*Runner, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, errors.Join(&Error{Msg: fmt.Sprintf("runner package %q: %v", dir, err)})
	}
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.Join(&Error{Msg: fmt.Sprintf("runner package %q does not exist", dir)})
	case err != nil:
		return nil, errors.Join(&Error{Msg: fmt.Sprintf("runner package %q: %v", dir, err)})
	case !fi.IsDir():
		return nil, errors.Join(&Error{Msg: fmt.Sprintf("runner package %q is not a directory", dir)})
	}

	l := &loader{root: root}
	r := &Runner{Dir: root}
	l.checkLinks(binDir, 0)
	l.checkLinks(ShareDir, 2) // down to virtiofs/TAG/socket
	for _, d := range []string{binDir, path.Dir(ShareDir), ShareDir, VirtiofsDir} {
		if _, fi, f := l.stat(d); f == lookupFound && !fi.IsDir() {
			l.add(d, 0, fmt.Sprintf("is a %s; expected a directory", fileKind(fi)))
		}
	}
	l.scripts(r)
	taps := l.taps(r)
	l.macvtaps(r, taps)
	multiQueueLine, hasTapFlags := l.tapFlags(r)
	r.PCIDevices = values(l.list(PCIDevicesFile, "pci address", "pci device", CheckPCIAddress))
	r.USBDevices = values(l.list(USBDevicesFile, "usb-host selector", "usb device", checkUSBDevice))
	l.shares(r)
	l.system(r)
	if m, keyLines := l.meta(); m != nil {
		r.Meta = m
		l.checkMeta(r, keyLines, multiQueueLine, hasTapFlags)
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (l *loader) scripts(r *Runner) {
	if l.script(RunScript) == lookupAbsent {
		l.add(RunScript, 0, "missing; expected an executable start script")
	}
	for _, h := range helperScripts(&r.Helpers) {
		*h.present = l.script(h.path) == lookupFound
	}
}

// script checks that rel is an executable regular file, after following
// symlinks, which for bin/ may lead anywhere on the host.
func (l *loader) script(rel string) found {
	_, fi, f := l.stat(rel)
	switch {
	case f != lookupFound:
		return f
	case !fi.Mode().IsRegular():
		l.add(rel, 0, fmt.Sprintf("is a %s; expected an executable file", fileKind(fi)))
		return lookupBad
	case fi.Mode()&0o111 == 0:
		l.add(rel, 0, fmt.Sprintf("has mode %v; expected an executable file", fi.Mode().Perm()))
		return lookupBad
	}
	return lookupFound
}

// readFile reads a data file, which must be a regular file inside the
// package (a symlink staying inside is fine).
func (l *loader) readFile(rel string) ([]byte, found) {
	res, fi, f := l.stat(rel)
	if f != lookupFound {
		return nil, f
	}
	if !fi.Mode().IsRegular() {
		l.add(rel, 0, fmt.Sprintf("is a %s; expected a regular file", fileKind(fi)))
		return nil, lookupBad
	}
	file, err := os.Open(res.abs)
	if err != nil {
		l.add(rel, 0, err.Error())
		return nil, lookupBad
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxDataFile+1))
	if err != nil {
		l.add(rel, 0, err.Error())
		return nil, lookupBad
	}
	if len(data) > maxDataFile {
		l.add(rel, 0, fmt.Sprintf("file is larger than %d bytes", maxDataFile))
		return nil, lookupBad
	}
	return data, lookupFound
}

func fileKind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}
