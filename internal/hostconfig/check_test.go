package hostconfig

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "virtiofsd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := writeConfig(t, "user = \"root\"\ngroup = \"root\"\nsupplementaryGroups = [\"root\"]\nvirtiofsd = \""+exe+"\"\n")
	if err := good.Check(); err != nil {
		t.Errorf("Check of an existing user, group and binary: %v", err)
	}

	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ virtiofsd, want string }{
		{filepath.Join(dir, "missing"), `7:1: virtiofsd: "` + dir + `/missing" does not exist; install virtiofsd`},
		{dir, `7:1: virtiofsd: "` + dir + `" is not a regular file; expected the virtiofsd executable`},
		{noexec, `7:1: virtiofsd: "` + noexec + `" is not executable (mode 0644); chmod +x it`},
		{"mvt-no-such-virtiofsd", `7:1: virtiofsd: "mvt-no-such-virtiofsd" is not in PATH; install virtiofsd`},
	} {
		c := writeConfig(t, `# all missing
user = "mvt-no-such-user"
group = "mvt-no-such-group"
supplementaryGroups = [
  "root", "mvt-no-such-disk",
]
virtiofsd = "`+tt.virtiofsd+`"
`)
		err := c.Check()
		if err == nil {
			t.Fatalf("Check succeeded; want every problem")
		}
		lines := strings.Split(err.Error(), "\n")
		want := []string{
			"2:1: user: no user \"mvt-no-such-user\" on this host; create it with `microvm host init`, or set user to an existing user",
			"3:1: group: no group \"mvt-no-such-group\" on this host; create it with `microvm host init`, or set group to an existing group",
			`5:11: supplementaryGroups[1]: no group "mvt-no-such-disk" on this host; create it (groupadd --system mvt-no-such-disk) or remove it from the list`,
			tt.want,
		}
		if len(lines) != len(want) {
			t.Fatalf("Check gave %d errors; want %d:\n%v", len(lines), len(want), err)
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], c.file+":"+w) {
				t.Errorf("error %d:\n%s\nwant it to start with\n%s:%s", i, lines[i], c.file, w)
			}
		}
	}
}

// TestCheckDefault: a user the file does not name is the default, and the
// error says so rather than point at a line.
func TestCheckDefault(t *testing.T) {
	if _, err := user.Lookup(DefaultUser); err == nil {
		t.Skipf("this host has a user %q", DefaultUser)
	}
	c := writeConfig(t, "group = \"root\"\n")
	err := c.Check()
	want := c.file + `: user: no user "microvm" on this host (the default); create it with ` + "`microvm host init`"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Check = %v; want %s…", err, want)
	}
}

func writeConfig(t *testing.T, doc string) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "host.toml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
