package ociinit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Identity is who the process runs as.
type Identity struct {
	UID, GID uint32
	Groups   []uint32 // supplementary
	Home     string   // "" when the user has no passwd entry
}

// maxUserDB bounds what is read of /etc/passwd and /etc/group.
const maxUserDB = 4 << 20

// LookupUser resolves an image's USER against root's /etc/passwd and
// /etc/group the way container runtimes do: "" is root; a name must be
// in passwd, a number need not be (its group is then 0); a group given
// after ':' overrides passwd's; a user found by name also gets the
// groups that list it as a member.
func LookupUser(root, user string) (Identity, error) {
	name, group, hasGroup := strings.Cut(user, ":")
	id := Identity{}
	if name == "" && !hasGroup {
		name = "0"
	}
	passwd, err := readDB(filepath.Join(root, "etc/passwd"), 7)
	if err != nil {
		return id, err
	}
	var found []string
	for _, e := range passwd {
		if e[0] == name || e[2] == name {
			found = e
			break
		}
	}
	switch uid, numErr := strconv.ParseUint(name, 10, 32); {
	case found != nil:
		u, err1 := strconv.ParseUint(found[2], 10, 32)
		g, err2 := strconv.ParseUint(found[3], 10, 32)
		if err1 != nil || err2 != nil {
			return id, fmt.Errorf("user %q: /etc/passwd has uid %q and gid %q; expected numbers", name, found[2], found[3])
		}
		id.UID, id.GID, id.Home = uint32(u), uint32(g), found[5]
	case name == "":
		// ":GROUP" alone: root with that group.
	case numErr == nil:
		id.UID = uint32(uid)
	default:
		return id, fmt.Errorf("user %q is not in the image's /etc/passwd; expected a user of the image or a numeric uid", name)
	}
	groups, err := readDB(filepath.Join(root, "etc/group"), 4)
	if err != nil {
		return id, err
	}
	if hasGroup {
		gid, err := lookupGroup(groups, group)
		if err != nil {
			return id, err
		}
		id.GID = gid
	}
	if found != nil {
		for _, e := range groups {
			for _, m := range strings.Split(e[3], ",") {
				if m != found[0] {
					continue
				}
				if g, err := strconv.ParseUint(e[2], 10, 32); err == nil && uint32(g) != id.GID {
					id.Groups = append(id.Groups, uint32(g))
				}
			}
		}
	}
	return id, nil
}

func lookupGroup(groups [][]string, group string) (uint32, error) {
	for _, e := range groups {
		if e[0] == group || e[2] == group {
			g, err := strconv.ParseUint(e[2], 10, 32)
			if err != nil {
				return 0, fmt.Errorf("group %q: /etc/group has gid %q; expected a number", group, e[2])
			}
			return uint32(g), nil
		}
	}
	if g, err := strconv.ParseUint(group, 10, 32); err == nil {
		return uint32(g), nil
	}
	return 0, fmt.Errorf("group %q is not in the image's /etc/group; expected a group of the image or a numeric gid", group)
}

// readDB reads a colon-separated database with at least fields fields
// per line; a missing file is empty, as in images without users.
func readDB(path string, fields int) ([][]string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(io.LimitReader(f, maxUserDB))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e := strings.Split(line, ":")
		if len(e) < fields {
			continue
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Environ is the process's environment: the image's, with PATH and HOME
// added when it has none, as container runtimes do.
func Environ(env []string, home string) []string {
	out := append([]string(nil), env...)
	has := func(k string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	if !has("PATH") {
		out = append(out, "PATH="+DefaultPath)
	}
	if !has("HOME") {
		if home == "" {
			home = "/"
		}
		out = append(out, "HOME="+home)
	}
	return out
}

// DefaultPath is the PATH of a process whose image sets none (Docker's).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// LookPath finds the program file as a shell would: a name with a slash
// is taken as it is, others are searched in env's PATH; all inside root.
// It returns the path as the process sees it.
func LookPath(root, file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(filepath.Join(root, file)); err != nil {
			return "", fmt.Errorf("%q: %w", file, err)
		}
		return file, nil
	}
	path := DefaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if executable(filepath.Join(root, p)) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in PATH %s", file, path)
}

// executable says why p is not a program the process can be, if it is not.
func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
