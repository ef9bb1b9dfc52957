package api

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Access decides who may change VMs through the API. Anyone who can
// connect (root and the socket's group) may read their status. Start,
// stop and restart are for root, and for members of the host
// configuration's apiAdminGroup when one is set; never for the VM user,
// whatever its groups: a guest that escaped into its hypervisor runs as
// the VM user and must not be able to start, stop or restart any VM
// (security issue 8).
type Access struct {
	vmUser     string
	vmUID      uint32
	hasVMUser  bool
	adminGroup string
	adminGID   uint32
	hasAdmin   bool
	proc       string // /proc, for supplementary groups
}

// NewAccess resolves the VM user and the admin group ("" for none) of the
// host configuration; proc is /proc. An admin group needs a VM user that
// exists, since the VM user is refused even as a member: without it the
// daemon could not tell.
func NewAccess(vmUser, adminGroup, proc string) (*Access, error) {
	a := &Access{vmUser: vmUser, adminGroup: adminGroup, proc: proc}
	if u, err := user.Lookup(vmUser); err == nil {
		id, err := strconv.ParseUint(u.Uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("VM user %q: uid %q: %w", vmUser, u.Uid, err)
		}
		a.vmUID, a.hasVMUser = uint32(id), true
	} else if adminGroup != "" {
		return nil, fmt.Errorf("apiAdminGroup %q: the VM user %q does not exist, so the API could not refuse it; create it (microvm host init) or remove apiAdminGroup: %w", adminGroup, vmUser, err)
	}
	if adminGroup != "" {
		g, err := user.LookupGroup(adminGroup)
		if err != nil {
			return nil, fmt.Errorf("apiAdminGroup %q: %w; create the group or remove the setting", adminGroup, err)
		}
		id, err := strconv.ParseUint(g.Gid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("apiAdminGroup %q: gid %q: %w", adminGroup, g.Gid, err)
		}
		a.adminGID, a.hasAdmin = uint32(id), true
	}
	return a, nil
}

// MayChange returns nil when the peer may start, stop and restart VMs,
// else an ErrForbidden that says who may. known is false when the
// connection's credentials are unknown: then only reading is allowed.
func (a *Access) MayChange(p Peer, known bool) error {
	switch {
	case !known:
		return a.forbidden("the daemon could not tell who is asking")
	case p.UID == 0:
		return nil
	case a.hasVMUser && p.UID == a.vmUID:
		return a.forbidden(fmt.Sprintf("uid %d is the VM user %q, which may only read status (an escaped guest runs as it)", p.UID, a.vmUser))
	case a.hasAdmin && a.inAdminGroup(p):
		return nil
	}
	return a.forbidden(fmt.Sprintf("uid %d may read status only", p.UID))
}

func (a *Access) forbidden(why string) error {
	who := "root only (set apiAdminGroup in host.toml to allow a group)"
	if a.hasAdmin {
		who = fmt.Sprintf("root and members of group %q", a.adminGroup)
	}
	return &kindError{ErrForbidden, fmt.Sprintf("permission denied: %s; starting, stopping and restarting VMs through the API is for %s", why, who)}
}

// inAdminGroup: the peer's primary gid from SO_PEERCRED, else its
// supplementary groups from /proc/PID/status. A pid can be reused after
// the peer exited, so the groups count only if that process still has
// the peer's effective uid: a process of the same user is no gain to it.
func (a *Access) inAdminGroup(p Peer) bool {
	if p.GID == a.adminGID {
		return true
	}
	if p.PID <= 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join(a.proc, strconv.Itoa(int(p.PID)), "status"))
	if err != nil {
		return false
	}
	uids, groups := statusField(b, "Uid:"), statusField(b, "Groups:")
	if len(uids) < 2 || uids[1] != strconv.FormatUint(uint64(p.UID), 10) {
		return false
	}
	want := strconv.FormatUint(uint64(a.adminGID), 10)
	for _, g := range groups {
		if g == want {
			return true
		}
	}
	return false
}

// statusField is the values of a /proc/PID/status line ("Uid:" gives
// real, effective, saved and filesystem uid).
func statusField(b []byte, key string) []string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}
