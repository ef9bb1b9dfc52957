package ociinit

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestParseCmdline(t *testing.T) {
	o, errs := ParseCmdline("console=ttyS0 microvm.ip=eth0:10.0.2.15/24 microvm.dhcp=eth1 microvm.volume=/dev/vdb:/data:ext4 microvm.volume=/dev/vdc:/scratch microvm.share=home:/home:virtiofs quiet")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := Options{
		Addresses: []Address{{Iface: "eth0", Prefix: netip.MustParsePrefix("10.0.2.15/24")}},
		DHCP:      []string{"eth1"},
		Volumes:   []Volume{{Device: "/dev/vdb", MountPoint: "/data", FsType: "ext4"}, {Device: "/dev/vdc", MountPoint: "/scratch"}},
		Shares:    []Share{{Tag: "home", MountPoint: "/home", Proto: "virtiofs"}},
	}
	if diff := cmp.Diff(want, o, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseCmdlineBad(t *testing.T) {
	_, errs := ParseCmdline("microvm.ip=10.0.2.15/24 microvm.ip=eth0:fe80::1/64 microvm.dhcp= microvm.volume=vdb:/data microvm.share=home:/home:nfs")
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	want := []string{
		`kernel parameter "microvm.ip=10.0.2.15/24": expected microvm.ip=IFACE:ADDR/PREFIX, like eth0:10.0.2.15/24`,
		`kernel parameter "microvm.ip=eth0:fe80::1/64": expected microvm.ip=IFACE:ADDR/PREFIX, like eth0:10.0.2.15/24`,
		`kernel parameter "microvm.dhcp=": expected microvm.dhcp=IFACE, like eth0`,
		`kernel parameter "microvm.volume=vdb:/data": expected microvm.volume=DEV:MOUNTPOINT[:FSTYPE], like /dev/vdb:/data:ext4`,
		`kernel parameter "microvm.share=home:/home:nfs": expected microvm.share=TAG:MOUNTPOINT:PROTO with PROTO virtiofs or 9p, like home:/home:virtiofs`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// root writes a root file system with the given /etc files.
func root(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLookupUser(t *testing.T) {
	dir := root(t, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n# comment\nwww:x:33:33:www:/var/www:/bin/false\nbroken:x:nan:1::/:\n",
		"etc/group":  "root:x:0:\nwww:x:33:\nadm:x:4:www,other\nstaff:x:50:www\n",
	})
	for _, tc := range []struct {
		user string
		want Identity
		err  string
	}{
		{"", Identity{Home: "/root"}, ""},
		{"root", Identity{Home: "/root"}, ""},
		{"www", Identity{UID: 33, GID: 33, Groups: []uint32{4, 50}, Home: "/var/www"}, ""},
		{"33", Identity{UID: 33, GID: 33, Groups: []uint32{4, 50}, Home: "/var/www"}, ""},
		{"www:adm", Identity{UID: 33, GID: 4, Groups: []uint32{50}, Home: "/var/www"}, ""},
		{"1000", Identity{UID: 1000}, ""},
		{"1000:1000", Identity{UID: 1000, GID: 1000}, ""},
		{":staff", Identity{GID: 50}, ""},
		{"nobody", Identity{}, `user "nobody" is not in the image's /etc/passwd`},
		{"www:nogroup", Identity{}, `group "nogroup" is not in the image's /etc/group`},
		{"broken", Identity{}, `user "broken": /etc/passwd has uid "nan"`},
	} {
		got, err := LookupUser(dir, tc.user)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("LookupUser(%q) = %+v, %v; want error %q", tc.user, got, err, tc.err)
		case tc.err == "" && (err != nil || !cmp.Equal(got, tc.want)):
			t.Errorf("LookupUser(%q) = %+v, %v; want %+v", tc.user, got, err, tc.want)
		}
	}
	// An image without /etc/passwd runs as root, or as a number.
	if got, err := LookupUser(t.TempDir(), "65534:65534"); err != nil || got.UID != 65534 || got.GID != 65534 {
		t.Errorf("LookupUser without passwd = %+v, %v", got, err)
	}
}

func TestEnviron(t *testing.T) {
	got := Environ([]string{"A=1", "HOME=/srv"}, "/root")
	if want := []string{"A=1", "HOME=/srv", "PATH=" + DefaultPath}; !slices.Equal(got, want) {
		t.Errorf("Environ = %q; want %q", got, want)
	}
	got = Environ([]string{"PATH=/bin"}, "")
	if want := []string{"PATH=/bin", "HOME=/"}; !slices.Equal(got, want) {
		t.Errorf("Environ = %q; want %q", got, want)
	}
}

func TestLookPath(t *testing.T) {
	dir := root(t, map[string]string{"usr/bin/app": "#!/bin/sh\n", "bin/sh": "", "etc/data": ""})
	os.Chmod(filepath.Join(dir, "etc/data"), 0o644)
	for _, tc := range []struct {
		file, path, want, err string
	}{
		{"app", "", "/usr/bin/app", ""},
		{"app", "/bin", "", `"app": executable file not found in PATH /bin`},
		{"/usr/bin/app", "/bin", "/usr/bin/app", ""},
		{"/etc/data", "", "", "not an executable file"},
		{"sh", "/sbin:/bin", "/bin/sh", ""},
	} {
		var env []string
		if tc.path != "" {
			env = []string{"PATH=" + tc.path}
		}
		got, err := LookPath(dir, tc.file, env)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("LookPath(%q, PATH=%q) = %q, %v; want %q, %q", tc.file, tc.path, got, err, tc.want, tc.err)
		}
	}
}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		lines []string
		code  int
		ok    bool
	}{
		{[]string{"hello", ExitLine(7, ""), "[    3.5] reboot: Power down"}, 7, true},
		{[]string{ExitLine(143, "SIGTERM") + "\r"}, 143, true},
		// A line the process printed, followed by the init's own.
		{[]string{ExitLine(0, ""), "microvm-init: Ctrl+Alt+Del: sending SIGTERM to the process"}, 0, false},
		{[]string{ExitLine(0, ""), "more", ExitLine(3, "")}, 3, true},
		{[]string{"microvm-init: exit status 300"}, 0, false},
		{[]string{"no init here"}, 0, false},
	} {
		code, ok := ExitStatus(tc.lines)
		if code != tc.code || ok != tc.ok {
			t.Errorf("ExitStatus(%q) = %d, %v; want %d, %v", tc.lines, code, ok, tc.code, tc.ok)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"": unix.SIGTERM, "SIGQUIT": unix.SIGQUIT, "quit": unix.SIGQUIT, "SIGRTMIN+3": 0, "9": unix.SIGKILL, "WINCH": unix.SIGWINCH} {
		got, err := ParseSignal(in)
		if want == 0 {
			if err == nil {
				t.Errorf("ParseSignal(%q) = %v; want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	if _, err := ParseConfig([]byte(`{"args": []}`)); err == nil || !strings.Contains(err.Error(), "no process to run") {
		t.Errorf("ParseConfig(no args) = %v", err)
	}
	if _, err := ParseConfig([]byte(`{"args": ["sh"], "workingDir": "srv"}`)); err == nil || !strings.Contains(err.Error(), `"srv" is not absolute`) {
		t.Errorf("ParseConfig(relative working dir) = %v", err)
	}
	c, err := ParseConfig([]byte(`{"args": ["sh", "-c", "echo"], "env": ["A=1"], "user": "www"}`))
	if err != nil || c.User != "www" || len(c.Args) != 3 {
		t.Errorf("ParseConfig = %+v, %v", c, err)
	}
}

func TestQuote(t *testing.T) {
	if got := quote([]string{"sh", "-c", "echo it's; exit 7", ""}); got != `sh -c 'echo it'\''s; exit 7' ''` {
		t.Errorf("quote = %s", got)
	}
}

func TestReadProcess(t *testing.T) {
	root := t.TempDir()
	if p, err := readProcess(root); p != nil || err != nil {
		t.Fatalf("readProcess without a file = %v, %v; want nil, nil", p, err)
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	file := filepath.Join(root, ProcessFile)
	os.WriteFile(file, []byte(`{"args":["sh","-c","pwd"],"env":["A=1"],"workingDir":"/srv"}`), 0o644)
	p, err := readProcess(root)
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Args: []string{"image"}, Env: []string{"B=2"}, WorkingDir: "/", User: "www", StopSignal: "SIGQUIT"}
	p.Apply(c)
	want := &Config{Args: []string{"sh", "-c", "pwd"}, Env: []string{"B=2", "A=1"}, WorkingDir: "/srv", User: "www", StopSignal: "SIGQUIT"}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	for content, msg := range map[string]string{
		`{"args":[]}`:                       "no program to run",
		`{"args":["x"],"env":["NOEQ"]}`:     `environment entry "NOEQ": expected NAME=VALUE`,
		`{"args":["x"],"workingDir":"rel"}`: "not absolute",
		`{`:                                 ProcessFile,
	} {
		os.WriteFile(file, []byte(content), 0o644)
		if _, err := readProcess(root); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("readProcess(%s) = %v; want an error with %q", content, err, msg)
		}
	}
}

// TestArgvMergeEnv: a spec's [process] changes the image's as a
// Kubernetes container's command, args and env do.
func TestArgvMergeEnv(t *testing.T) {
	entry, cmd := []string{"/entry", "-x"}, []string{"serve", "--port=80"}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"nothing", nil, nil, []string{"/entry", "-x", "serve", "--port=80"}},
		{"args replace the cmd", nil, []string{"check"}, []string{"/entry", "-x", "check"}},
		{"command drops the cmd", []string{"sh"}, nil, []string{"sh"}},
		{"command and args", []string{"sh", "-c"}, []string{"echo hi"}, []string{"sh", "-c", "echo hi"}},
	} {
		if got := Argv(entry, cmd, tc.command, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Argv = %q; want %q", tc.name, got, tc.want)
		}
	}
	base := []string{"PATH=/bin", "LANG=C", "A=1"}
	got := MergeEnv(base, []string{"LANG=C.UTF-8", "B=2", "A=3"})
	if want := []string{"PATH=/bin", "LANG=C.UTF-8", "A=3", "B=2"}; !slices.Equal(got, want) {
		t.Errorf("MergeEnv = %q; want %q", got, want)
	}
	if base[1] != "LANG=C" {
		t.Errorf("MergeEnv changed its base: %q", base)
	}
	// An image with only a cmd, and args replacing it with nothing to
	// run: refused as the init would refuse it.
	p := Process{Args: Argv(nil, []string{"x"}, nil, []string{""})}
	if err := p.Check(); err == nil {
		t.Error("Check accepted an empty program")
	}
}
