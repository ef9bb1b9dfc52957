package spec

import (
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/microvm-host/microvm/internal/runner"
)

// socketLength records a problem if the unix socket sock cannot fit in
// sun_path once resolved the way the host resolves it: an absolute path
// as it is, a relative one against the VM directory STATE/NAME, as
// runner.Runner.SocketPath does for virtiofsd (and microvm.nix's
// `realpath` did).
//
// The VM directory is not known here: a spec is validated when it is
// built, and its runner may be created under any state directory later.
// So a relative socket is checked against the shortest directory it can
// resolve into, "/NAME": what fails here fails everywhere. The exact
// check of virtiofs sockets happens when the runner is installed for a
// VM (runner.Runner.CheckPaths at create and update). The control socket
// is bound by the hypervisor and dialled by bin/microvm-shutdown relative
// to the VM directory, their working directory, so the kernel sees only
// the relative path, which is shorter than this bound.
func (l *errorList) socketLength(opt, sock, name string) {
	if sock == "" {
		return
	}
	const limit = "a unix socket path holds at most %d bytes"
	if filepath.IsAbs(sock) {
		if n := len(sock); n > runner.MaxSocketPath {
			l.add(opt, "%q is %d bytes; "+limit, sock, n, runner.MaxSocketPath)
		}
		return
	}
	if n := len("/" + name + "/" + filepath.Clean(sock)); n > runner.MaxSocketPath {
		l.add(opt, "%q is %d bytes, and at least %d resolved against the VM directory (/%s/…); "+limit,
			sock, len(sock), n, name, runner.MaxSocketPath)
	}
}

// systemDirs are the top-level directories a volume image may not be in:
// the host's own files, which no guest should get as a disk, nor any
// autoCreate try to write. /dev is allowed only for block devices by a
// stable name (see devImageAllowed).
var systemDirs = []string{"/bin", "/boot", "/dev", "/etc", "/lib*", "/proc", "/root", "/run", "/sbin", "/sys", "/usr"}

// devDirs are directories below /dev that the kernel and udev own; an
// image /dev/X/Y there is not an LVM logical volume /dev/VG/LV.
var devDirs = []string{"block", "bsg", "bus", "char", "cpu", "dri", "fd", "hugepages", "input", "mqueue", "net", "pts", "shm", "snd", "usb", "vfio", "vhost-net"}

// imageRule is how the error states the rule imagePath enforces.
const imageRule = "expected a path inside the VM directory (relative, without \"..\"), or an absolute path outside /bin, /boot, /etc, /lib*, /proc, /root, /run, /sbin, /sys, /usr and /dev; " +
	"block devices are allowed as /dev/disk/…, /dev/mapper/NAME or /dev/VG/LV"

// imagePath records a problem if a volume image is somewhere no VM's disk
// may be. The path is judged as written: where symlinks lead at run time
// is the host's concern, with the VM user's permissions.
func (l *errorList) imagePath(opt, img string) {
	if img == "" {
		return
	}
	clean := filepath.Clean(img)
	if !filepath.IsAbs(img) {
		switch {
		case clean == ".":
			l.add(opt, "%q is the VM directory itself; %s", img, imageRule)
		case clean == ".." || strings.HasPrefix(clean, "../"):
			l.add(opt, "%q leaves the VM directory; %s", img, imageRule)
		}
		return
	}
	top, rest, _ := strings.Cut(strings.TrimPrefix(clean, "/"), "/")
	for _, d := range systemDirs {
		if ok, _ := path.Match(d, "/"+top); !ok {
			continue
		}
		if top == "dev" && devImageAllowed(rest) {
			return
		}
		l.add(opt, "%q is under %s, a system directory; %s", img, "/"+top, imageRule)
		return
	}
}

// devImageAllowed says whether /dev/REST names a block device by a stable
// name: udev's /dev/disk/by-*/… links, device-mapper's /dev/mapper/NAME,
// or LVM's /dev/VG/LV. Kernel names like /dev/sda change between boots,
// so a VM could get another disk; they are refused.
func devImageAllowed(rest string) bool {
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) >= 2 && parts[0] == "disk":
		return true
	case len(parts) != 2:
		return false
	case parts[0] == "mapper":
		return parts[1] != "control"
	}
	return lvmName(parts[0]) && lvmName(parts[1]) && !slices.Contains(devDirs, parts[0])
}

// lvmName reports whether s can be an LVM volume group or logical volume
// name: letters, digits and "+_.-", not starting with "-" (lvm(8), VALID
// NAMES).
func lvmName(s string) bool {
	if s == "" || s == "." || s == ".." || s[0] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("+_.-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
