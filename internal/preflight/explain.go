package preflight

import (
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"github.com/microvm-host/microvm/internal/printable"
)

// User is the VM user, for messages and fixes.
type User struct {
	Name, Group string // "" for names to look up
	UID, GID    uint32
	Groups      []uint32 // supplementary
}

// Explain returns nil when every finding is fine, else one error naming,
// for each problem, the file, its owner and mode, what the VM user needs
// and a command that fixes it.
func Explain(findings []Finding, u User) error {
	u = u.named()
	var lines []string
	for _, f := range findings {
		if f.Problem != "" {
			lines = append(lines, explain(f, u))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("the VM user %s cannot use what its hypervisor opens (checked before preparing the host):\n  %s", u, strings.Join(lines, "\n  "))
}

func explain(f Finding, u User) string {
	subject := f.What + " " + path(f.Path)
	switch f.Problem {
	case Missing:
		switch {
		case f.Blocker != f.Path:
			return fmt.Sprintf("%s is created by the runner in %s, which does not exist; create it: mkdir -p %s", subject, path(f.Blocker), quote(f.Blocker))
		case strings.HasPrefix(f.What, "volumes") && strings.HasSuffix(f.What, ".base"):
			return subject + " does not exist; the volume's image is made from it on first start, and an overlay reads it for good: put it back, or set another base and rebuild (microvm update)"
		case f.What == "hostModules":
			return subject + " does not exist: the host has no modules for the guest's kernel; install them, or leave hostModules out and rebuild (microvm update)"
		case strings.HasPrefix(f.What, "volumes"):
			return subject + " does not exist, and the runner does not create it (autoCreate = false); create it, or set autoCreate = true with a size"
		case strings.HasPrefix(f.What, "shares"):
			return fmt.Sprintf("%s does not exist; create it: mkdir -p %s && chown %s:%s %s", subject, quote(f.Path), u.Name, u.Group, quote(f.Path))
		}
		return subject + " does not exist; the runner was built with it: put it back, or rebuild the runner from its spec (microvm update)"
	case ReadOnly:
		return fmt.Sprintf("%s is on a read-only file system, and %s needs to %s it; mount it read-write, or set readOnly = true for it", subject, u.Name, verb(f.Need))
	case Writable:
		owner := ""
		if o := f.Owner; o != nil {
			owner = fmt.Sprintf(" (owned by %s:%s with mode %04o)", userName(o.UID), groupName(o.GID), o.Mode)
		}
		return fmt.Sprintf("%s is writable by %s%s: a guest that escaped into its hypervisor could change the disk of every VM made from it; fix: chown root:%s %s && chmod 0640 %s",
			subject, u.Name, owner, u.Group, quote(f.Path), quote(f.Path))
	case WrongKind:
		want := "a regular file or a block device"
		if strings.HasPrefix(f.What, "shares") {
			want = "a directory"
		}
		return fmt.Sprintf("%s is %s; expected %s", subject, f.Kind, want)
	case Denied:
		return denied(f, u, subject)
	}
	return fmt.Sprintf("%s: %s", subject, printable.Text(f.Err))
}

// path prints a path from a runner or the file system, escaped.
func path(p string) string { return printable.String(p) }

// quote quotes p for a shell command line the user may paste.
func quote(p string) string {
	if q, err := syntax.Quote(p, syntax.LangPOSIX); err == nil {
		return q
	}
	return printable.String(p)
}

// verb says what access bits let one do, for messages.
func verb(need string) string {
	switch need {
	case "r":
		return "read"
	case "rw":
		return "read and write"
	case "rx":
		return "list and enter"
	case "x":
		return "enter"
	case "wx":
		return "create files in"
	}
	return "use (" + need + ")"
}

// String names the user and its groups: "nobody (group nogroup)".
func (u User) String() string {
	groups := []string{u.Group}
	for _, g := range u.Groups {
		if g != u.GID {
			groups = append(groups, groupName(g))
		}
	}
	if len(groups) == 1 {
		return u.Name + " (group " + groups[0] + ")"
	}
	return u.Name + " (groups " + strings.Join(groups, ", ") + ")"
}

// named fills in the names of a user given by ids.
func (u User) named() User {
	if u.Name == "" {
		u.Name = userName(u.UID)
	}
	if u.Group == "" {
		u.Group = groupName(u.GID)
	}
	return u
}

// inGroup reports whether gid is one of u's groups.
func (u User) inGroup(gid uint32) bool { return gid == u.GID || slices.Contains(u.Groups, gid) }

func userName(uid uint32) string {
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(uid))
}

func groupName(gid uint32) string {
	if g, err := user.LookupGroupId(strconv.Itoa(int(gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(gid))
}
