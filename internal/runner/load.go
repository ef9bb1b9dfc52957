package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/microvm-host/microvm/internal/printable"
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
			l.add(d, 0, fmt.Sprintf("is %s; expected a directory", printable.FileKind(fi.Mode())))
		}
	}
	l.scripts(r)
	taps := l.taps(r)
	l.macvtaps(r, taps)
	l.tapNetworks(r, taps)
	multiQueueLine, hasTapFlags := l.tapFlags(r)
	// PCI addresses are lowercased at load: VFIO and sysfs know only
	// 0000:0a:00.0, and 0000:0A:00.0 on another line is the same device.
	r.PCIDevices = values(l.list(PCIDevicesFile, "pci address", "pci device", CheckPCIAddress, NormalizePCIAddress))
	r.USBDevices = values(l.list(USBDevicesFile, "usb-host selector", "usb device", checkUSBDevice, nil))
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
		l.add(rel, 0, fmt.Sprintf("is %s; expected an executable file", printable.FileKind(fi.Mode())))
		return lookupBad
	case fi.Mode()&0o111 == 0:
		l.add(rel, 0, fmt.Sprintf("has mode %04o, executable by nobody; expected an executable file", fi.Mode().Perm()))
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
		l.add(rel, 0, fmt.Sprintf("is %s; expected a regular file", printable.FileKind(fi.Mode())))
		return nil, lookupBad
	}
	// O_NONBLOCK and the second look at what was opened: a file swapped
	// for a FIFO after the stat must not make Load hang.
	file, err := os.OpenFile(res.abs, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		l.add(rel, 0, err.Error())
		return nil, lookupBad
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil || !fi.Mode().IsRegular() {
		l.add(rel, 0, "changed while being read; expected a regular file")
		return nil, lookupBad
	}
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
