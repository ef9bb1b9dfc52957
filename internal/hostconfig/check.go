package hostconfig

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
)

// Check reports, all at once, what this host lacks of what the
// configuration names: the VM user and group, each supplementary group,
// and the virtiofsd binary when one is set. Load cannot refuse these,
// since `microvm host init` creates the user and group from a loaded
// configuration; the daemon checks them when it starts as root, rather
// than failing at each VM's start.
func (c *Config) Check() error {
	p := problems{cfg: c}
	if _, err := user.Lookup(c.User); err != nil {
		p.add("user", "%s; create it with `microvm host init`, or set user to an existing user", missing("user", c.User, c.written("user"), err))
	}
	if _, err := user.LookupGroup(c.Group); err != nil {
		p.add("group", "%s; create it with `microvm host init`, or set group to an existing group", missing("group", c.Group, c.written("group"), err))
	}
	for i, g := range c.SupplementaryGroups {
		if _, err := user.LookupGroup(g); err != nil {
			p.add(fmt.Sprintf("supplementaryGroups[%d]", i), "%s; create it (groupadd --system %s) or remove it from the list", missing("group", g, true, err), g)
		}
	}
	if c.Virtiofsd != "" {
		p.check("virtiofsd", checkExecutable(c.Virtiofsd))
	}
	return p.join()
}

// missing says that the user or group name does not exist, or why it
// could not be looked up.
func missing(what, name string, written bool, err error) string {
	var uu user.UnknownUserError
	var ug user.UnknownGroupError
	msg := fmt.Sprintf("%s %q: %v", what, name, err)
	if errors.As(err, &uu) || errors.As(err, &ug) {
		msg = fmt.Sprintf("no %s %q on this host", what, name)
	}
	if !written {
		msg += " (the default)"
	}
	return msg
}

// checkExecutable reports whether path, or the name looked up in PATH,
// is an executable regular file.
func checkExecutable(path string) error {
	const fix = "install virtiofsd (Debian: apt install virtiofsd) or set virtiofsd to its path"
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return fmt.Errorf("%q is not in PATH; %s", path, fix)
		}
		path = p
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%q does not exist; %s", path, fix)
	case err != nil:
		return fmt.Errorf("%q: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%q is not a regular file; expected the virtiofsd executable; %s", path, fix)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%q is not executable (mode %04o); chmod +x it or %s", path, fi.Mode().Perm(), fix)
	}
	return nil
}
