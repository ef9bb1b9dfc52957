package preflight

import (
	"fmt"
	"strings"

	"github.com/microvm-host/microvm/internal/printable"
)

// denied explains a permission problem: which file is in the way, owned
// by whom with which mode, what the VM user needs, and the fix.
func denied(f Finding, u User, subject string) string {
	o := f.Owner
	owner := ":"
	if o != nil {
		owner = fmt.Sprintf(" is owned by %s:%s with mode %04o, and", userName(o.UID), groupName(o.GID), o.Mode)
	}
	var msg string
	switch {
	case f.Blocker == f.Path:
		msg = fmt.Sprintf("%s%s %s needs to %s it", subject, owner, u.Name, verb(f.Need))
	case f.Need == "wx":
		msg = fmt.Sprintf("%s is created by the runner, but directory %s%s %s needs to %s it", subject, path(f.Blocker), owner, u.Name, verb(f.Need))
	default:
		msg = fmt.Sprintf("%s is out of reach: directory %s%s %s needs to %s it", subject, path(f.Blocker), owner, u.Name, verb(f.Need))
	}
	switch {
	case o == nil:
		return msg + ": " + printable.Text(f.Err)
	case o.permits(u, f.Need):
		return fmt.Sprintf("%s; its mode allows that, so an ACL, a mount option or a security module denies it (see getfacl %s)", msg, quote(f.Blocker))
	}
	return msg + "; fix: " + fix(f, u)
}

// fix is a command line that gives u what it needs on f.Blocker, changing
// as little as it can: the bits of the class u is in; the VM's own disk
// image becomes the VM user's; other files (kernel, initrd, a base that
// VMs share, a share) get the VM group; a directory on the way only lets others pass.
func fix(f Finding, u User) string {
	o, q, bits := f.Owner, quote(f.Blocker), f.Need
	switch {
	case o.UID == u.UID:
		return "chmod u+" + bits + " " + q
	case u.inGroup(o.GID):
		return "chmod g+" + bits + " " + q
	case f.Blocker == f.Path && strings.HasPrefix(f.What, "volumes") && !strings.HasSuffix(f.What, ".base"):
		s := "chown " + u.Name + ":" + u.Group + " " + q
		if (o.Mode>>6)&mask(bits) != mask(bits) {
			s += " && chmod u+" + bits + " " + q
		}
		return s
	case f.Blocker == f.Path:
		return "chgrp " + u.Group + " " + q + " && chmod g+" + bits + " " + q
	case bits == "wx":
		return "chgrp " + u.Group + " " + q + " && chmod g+wx " + q + ", or create the image beforehand"
	}
	return "chmod o+x " + q + ", or keep the file where " + u.Name + " can reach it"
}

// permits reports whether o's mode gives u need, by the class u is in
// (owner, group, others), as the kernel checks mode bits.
func (o *Owner) permits(u User, need string) bool {
	bits := o.Mode & 7
	switch {
	case o.UID == u.UID:
		bits = (o.Mode >> 6) & 7
	case u.inGroup(o.GID):
		bits = (o.Mode >> 3) & 7
	}
	return bits&mask(need) == mask(need)
}

// mask is need (r, w, x) as mode bits of one class.
func mask(need string) uint32 {
	var m uint32
	for _, c := range need {
		m |= map[rune]uint32{'r': 4, 'w': 2, 'x': 1}[c]
	}
	return m
}
