package hostprep

import (
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/trust"
)

// Identity is who the hypervisor runs as.
type Identity struct {
	User, Group string
	UID, GID    int
	Groups      []uint32 // supplementary
	// Switch is true when the caller is root and must drop to this
	// identity; a non-root caller runs VMs as itself.
	Switch bool
}

// LookupIdentity resolves the configured VM user and group. Only root can
// switch to them; anyone else runs VMs as themselves.
func LookupIdentity(c *hostconfig.Config) (Identity, error) {
	if os.Geteuid() != 0 {
		return Identity{UID: os.Geteuid(), GID: os.Getegid()}, nil
	}
	u, err := user.Lookup(c.User)
	if err != nil {
		return Identity{}, fmt.Errorf("VM user %q: %w (create it with `microvm host init`)", c.User, err)
	}
	g, err := user.LookupGroup(c.Group)
	if err != nil {
		return Identity{}, fmt.Errorf("VM group %q: %w (create it with `microvm host init`)", c.Group, err)
	}
	id := Identity{User: c.User, Group: c.Group, Switch: true}
	id.UID, _ = strconv.Atoi(u.Uid)
	id.GID, _ = strconv.Atoi(g.Gid)
	for _, name := range c.SupplementaryGroups {
		sg, err := user.LookupGroup(name)
		if err != nil {
			return Identity{}, fmt.Errorf("supplementary group %q: %w", name, err)
		}
		gid, _ := strconv.Atoi(sg.Gid)
		id.Groups = append(id.Groups, uint32(gid))
	}
	return id, nil
}

// VMUser is who root must not let steer it (see package trust): the VM
// user with its groups. It is nil when there is no boundary to defend:
// microvm runs as the user that runs the VMs, or VMs run as root.
func (id Identity) VMUser() *trust.User {
	if !id.Switch || id.UID == 0 {
		return nil
	}
	u := &trust.User{UID: uint32(id.UID), GIDs: []uint32{uint32(id.GID)}}
	u.GIDs = append(u.GIDs, id.Groups...)
	return u
}
