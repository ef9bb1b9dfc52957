package preflight

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/generate"
)

// TestMain makes the test binary the probe's child when asked: AsUser
// runs it with the VM user's credentials, as run does the microvm binary.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "preflight-child" {
		if err := Serve(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func writeBuild(t *testing.T, opens []generate.Open) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "share/microvm"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(generate.Build{Opens: opens})
	if err := os.WriteFile(filepath.Join(dir, "share/microvm", generate.BuildFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestForRunner(t *testing.T) {
	r := writeBuild(t, []generate.Open{
		{What: "kernel", Path: "/boot/vmlinuz", Access: generate.AccessRead},
		{What: "volumes[0].image", Path: "data.img", Access: generate.AccessReadWrite, Created: true},
		{What: "shares[0].source", Path: "sub/../share", Access: generate.AccessDir},
	})
	got, err := ForRunner(r, "/var/lib/microvms/vm")
	if err != nil {
		t.Fatal(err)
	}
	want := []Check{
		{What: "kernel", Path: "/boot/vmlinuz", Access: generate.AccessRead},
		{What: "volumes[0].image", Path: "/var/lib/microvms/vm/data.img", Access: generate.AccessReadWrite, Created: true},
		{What: "shares[0].source", Path: "/var/lib/microvms/vm/share", Access: generate.AccessDir},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}

	// Hand-written runners say nothing: nothing is checked.
	if got, err := ForRunner(t.TempDir(), "/vm"); err != nil || got != nil {
		t.Errorf("runner without build.json: %v, %v; want nothing", got, err)
	}
	bad := writeBuild(t, []generate.Open{{What: "kernel", Path: "/k", Access: "execute"}})
	if _, err := ForRunner(bad, "/vm"); err == nil || !strings.Contains(err.Error(), `kernel "/k": unknown access "execute"; expected read, read-write, dir or shared-read`) {
		t.Errorf("unknown access: %v", err)
	}
}

// TestProbe runs the checks that do not depend on who runs them.
func TestProbe(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c                      Check
		problem, blocker, kind string
	}{
		{c: Check{What: "kernel", Path: file, Access: generate.AccessRead}},
		{c: Check{What: "kernel", Path: filepath.Join(dir, "gone"), Access: generate.AccessRead}, problem: Missing, blocker: filepath.Join(dir, "gone")},
		// The runner creates it, in a directory that is there.
		{c: Check{What: "volumes[0].image", Path: filepath.Join(dir, "new.img"), Access: generate.AccessReadWrite, Created: true}},
		{c: Check{What: "volumes[0].image", Path: filepath.Join(dir, "no/new.img"), Access: generate.AccessReadWrite, Created: true}, problem: Missing, blocker: filepath.Join(dir, "no")},
		{c: Check{What: "volumes[0].image", Path: dir, Access: generate.AccessReadWrite}, problem: WrongKind, blocker: dir, kind: "a directory"},
		{c: Check{What: "kernel", Path: fifo, Access: generate.AccessRead}, problem: WrongKind, blocker: fifo, kind: "a FIFO"},
		{c: Check{What: "shares[0].source", Path: file, Access: generate.AccessDir}, problem: WrongKind, blocker: file, kind: "a regular file"},
		{c: Check{What: "shares[0].source", Path: dir, Access: generate.AccessDir}},
	} {
		f := Probe([]Check{tc.c})[0]
		if f.Problem != tc.problem || f.Blocker != tc.blocker || f.Kind != tc.kind {
			t.Errorf("%s %s: problem %q, blocker %q, kind %q; want %q, %q, %q", tc.c.What, tc.c.Path, f.Problem, f.Blocker, f.Kind, tc.problem, tc.blocker, tc.kind)
		}
	}
}

// TestAsUser checks as a real unprivileged user (nobody) in a child
// process, which is what run does as root.
func TestAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching to the VM user needs root")
	}
	const nobody = 65534
	// The child must reach the test binary and the files.
	dir, err := os.MkdirTemp("", "preflight")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, "preflight.test")
	if b, err := os.ReadFile(exe); err != nil || os.WriteFile(self, b, 0o755) != nil {
		t.Fatalf("copying the test binary: %v", err)
	}
	disk := filepath.Join(dir, "disk.img")
	os.WriteFile(disk, nil, 0o600)
	ok := filepath.Join(dir, "ok.img")
	os.WriteFile(ok, nil, 0o600)
	os.Chown(ok, nobody, nobody)
	private := filepath.Join(dir, "private")
	os.Mkdir(private, 0o700)
	os.WriteFile(filepath.Join(private, "vmlinuz"), nil, 0o644)

	// A shared base: root's and readable is right; the VM user's is not,
	// as it could change every VM's disk made from it.
	base := filepath.Join(dir, "base.qcow2")
	os.WriteFile(base, nil, 0o644)
	ownBase := filepath.Join(dir, "own-base.qcow2")
	os.WriteFile(ownBase, nil, 0o644)
	os.Chown(ownBase, nobody, nobody)
	checks := []Check{
		{What: "volumes[0].image", Path: disk, Access: generate.AccessReadWrite},
		{What: "volumes[1].image", Path: ok, Access: generate.AccessReadWrite},
		{What: "kernel", Path: filepath.Join(private, "vmlinuz"), Access: generate.AccessRead},
		{What: "volumes[1].base", Path: base, Access: generate.AccessShared},
		{What: "volumes[2].base", Path: ownBase, Access: generate.AccessShared},
	}
	cred := &syscall.Credential{Uid: nobody, Gid: nobody}
	found, err := AsUser(t.Context(), self, []string{"preflight-child"}, cred, checks)
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{Check: checks[0], Problem: Denied, Err: "permission denied", Blocker: disk, Need: "rw", Owner: &Owner{UID: 0, GID: 0, Mode: 0o600}},
		{Check: checks[1]},
		{Check: checks[2], Problem: Denied, Err: "permission denied", Blocker: private, Need: "x", Owner: &Owner{UID: 0, GID: 0, Mode: 0o700}},
		{Check: checks[3]},
		{Check: checks[4], Problem: Writable, Blocker: ownBase, Need: "w", Owner: &Owner{UID: nobody, GID: nobody, Mode: 0o644}},
	}
	if diff := cmp.Diff(want, found); diff != "" {
		t.Errorf("findings as nobody (-want +got):\n%s", diff)
	}
	// The same checks as root find nothing: they are the child's.
	for _, f := range Probe(checks) {
		if f.Problem != "" {
			t.Errorf("as root: %+v", f)
		}
	}
}
