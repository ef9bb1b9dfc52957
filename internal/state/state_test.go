package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeRunner makes a minimal runner package; system "" means none.
func writeRunner(t *testing.T, dir, script, system string) string {
	t.Helper()
	mustMkdir(t, filepath.Join(dir, "bin"))
	mustMkdir(t, filepath.Join(dir, "share/microvm"))
	if err := os.WriteFile(filepath.Join(dir, "bin/microvm-run"), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if system != "" {
		if err := os.Symlink(system, filepath.Join(dir, systemLink)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// importFor imports src and links it from the VM name's link before it
// releases the import, as commands do.
func importFor(t *testing.T, d *Dir, name, link, src string) string {
	t.Helper()
	p, release, err := d.Import(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	mustMkdir(t, d.VMPath(name))
	if err := d.SetLink(name, link, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func newDir(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"a", "vm-1", "My_VM", strings.Repeat("x", 63)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", ".hidden", "-x", "_x", "a/b", "..", "a.b", "a b", "a\nb", "ä", strings.Repeat("x", 64)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) = nil, want error", bad)
		}
	}
}

func TestHashCoversContentModeLinksAndNames(t *testing.T) {
	base := t.TempDir()
	a := writeRunner(t, filepath.Join(base, "a"), "echo a", "/nix/store/x-sys")
	h0, err := Hash(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	b := writeRunner(t, filepath.Join(base, "b"), "echo a", "/nix/store/x-sys")
	if h, _ := Hash(context.Background(), b); h != h0 {
		t.Fatalf("identical trees hash differently: %s vs %s", h, h0)
	}
	changes := map[string]func(dir string){
		"content": func(d string) {
			os.WriteFile(filepath.Join(d, "bin/microvm-run"), []byte("#!/bin/sh\necho b\n"), 0o755)
		},
		"exec bit": func(d string) { os.Chmod(filepath.Join(d, "bin/microvm-run"), 0o644) },
		"link target": func(d string) {
			os.Remove(filepath.Join(d, systemLink))
			os.Symlink("/nix/store/y-sys", filepath.Join(d, systemLink))
		},
		"new file":  func(d string) { os.WriteFile(filepath.Join(d, "share/microvm/tap-interfaces"), nil, 0o644) },
		"empty dir": func(d string) { os.Mkdir(filepath.Join(d, "share/microvm/virtiofs"), 0o755) },
	}
	for what, change := range changes {
		dir := writeRunner(t, filepath.Join(base, strings.ReplaceAll(what, " ", "-")), "echo a", "/nix/store/x-sys")
		change(dir)
		if h, err := Hash(context.Background(), dir); err != nil || h == h0 {
			t.Errorf("after changing %s: hash %s (err %v), want different from %s", what, h, err, h0)
		}
	}
}

func TestImportDeduplicatesAndFreezes(t *testing.T) {
	d := newDir(t)
	src := writeRunner(t, filepath.Join(t.TempDir(), "r"), "echo hi", "/nix/store/abc-sys")
	ctx := context.Background()
	p1 := importFor(t, d, "vm", CurrentLink, src)
	p2 := importFor(t, d, "vm2", CurrentLink, src)
	if p1 != p2 || filepath.Dir(p1) != filepath.Join(d.Root, StoreDir) {
		t.Fatalf("imports gave %s and %s, want one entry in the store", p1, p2)
	}
	fi, err := os.Stat(filepath.Join(p1, "bin/microvm-run"))
	if err != nil || fi.Mode().Perm() != 0o555 {
		t.Fatalf("stored script mode = %v (%v), want 0555", fi.Mode(), err)
	}
	if tgt, _ := os.Readlink(filepath.Join(p1, systemLink)); tgt != "/nix/store/abc-sys" {
		t.Fatalf("system link = %q, want copied verbatim", tgt)
	}
	if h, _ := Hash(ctx, p1); filepath.Base(p1) != h {
		t.Fatalf("entry %s does not hold what its name says (%s)", p1, h)
	}
}

func TestGCKeepsReferencedRunners(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	var paths []string
	for _, s := range []string{"current", "booted", "old", "staged", "unreferenced"} {
		src := writeRunner(t, filepath.Join(t.TempDir(), s), "echo "+s, "")
		paths = append(paths, importFor(t, d, "hold-"+s, CurrentLink, src))
	}
	mustMkdir(t, d.VMPath("vm"))
	for i, l := range []string{CurrentLink, BootedLink, OldLink} {
		if err := d.SetLink("vm", l, paths[i]); err != nil {
			t.Fatal(err)
		}
	}
	stage, err := d.Stage("other")
	if err != nil {
		t.Fatal(err)
	}
	if err := stage.SetLink(CurrentLink, paths[3]); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"current", "booted", "old", "staged", "unreferenced"} {
		os.RemoveAll(d.VMPath("hold-" + s)) // the VMs that imported them are gone
	}
	leftover := filepath.Join(d.Root, StoreDir, ".tmp-123")
	mustMkdir(t, leftover)

	removed, err := d.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != paths[4] {
		t.Fatalf("GC removed %v, want only %s", removed, paths[4])
	}
	for _, p := range paths[:4] {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("referenced runner %s was collected", p)
		}
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("import leftover %s survived GC", leftover)
	}
	// Links are relative, so the whole state directory can move.
	if l, _ := os.Readlink(d.Path("vm", CurrentLink)); !strings.HasPrefix(l, "../"+StoreDir+"/") {
		t.Errorf("current link %q is not relative", l)
	}
}

func TestStageCommitRefusesExistingVM(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	unlock, err := d.Lock(ctx, "vm")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	mustMkdir(t, d.VMPath("vm"))
	os.WriteFile(d.Path("vm", "keep"), []byte("user data"), 0o644)
	s, err := d.Stage("vm")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	if err := s.Commit(-1); !errors.Is(err, ErrExists) {
		t.Fatalf("Commit over an existing VM = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(d.Path("vm", "keep")); string(b) != "user data" {
		t.Fatal("existing VM was touched")
	}
	s.Abort()
	if entries, _ := os.ReadDir(filepath.Join(d.Root, TmpDir)); len(entries) != 0 {
		t.Fatalf("Abort left %v in %s", entries, TmpDir)
	}
}

func TestLockIsExclusiveAndCleansLeftovers(t *testing.T) {
	d := newDir(t)
	unlock, err := d.Lock(context.Background(), "vm")
	if err != nil {
		t.Fatal(err)
	}
	// A staging dir of a command that died while holding the lock.
	s, err := d.Stage("vm")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := d.Stage("vm2")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := d.Lock(ctx, "vm"); err == nil {
		t.Fatal("second Lock succeeded while the first is held")
	}
	unlock()
	unlock, err = d.Lock(context.Background(), "vm")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(s.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s of vm not removed by the next lock holder", s.Path)
	}
	if _, err := os.Stat(other.Path); err != nil {
		t.Errorf("staging dir of another VM was removed: %v", err)
	}
}

func TestSourceRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, src := range []Source{
		{Kind: SourceRunner, Ref: "/srv/runners/a"},
		{Kind: SourceFlake, Ref: "git+file:///etc/nixos"},
		{Kind: SourceSpec, Ref: "/etc/microvm/a.toml"},
	} {
		if err := WriteSource(dir, src); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSource(dir)
		if err != nil || got != src {
			t.Fatalf("ReadSource = %v, %v; want %v", got, err, src)
		}
	}
	// microvm.nix's install-microvm writes the flake with a newline.
	os.WriteFile(filepath.Join(dir, FlakeFile), []byte("/nix/store/x-source\n"), 0o644)
	if got, _ := ReadSource(dir); got.Ref != "/nix/store/x-source" {
		t.Fatalf("flake with newline read as %q", got.Ref)
	}
}

func TestReadSourceRejectsMalformedRecords(t *testing.T) {
	for body, want := range map[string]string{
		`{"kind":"runner","ref":"rel/path"}`: "not an absolute path",
		`{"kind":"tarball","ref":"/x"}`:      "unknown source kind",
		`{"kind":"runner","ref":"/x","x":1}`: "unknown field",
		`not json`:                           "expected {",
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, SourceFile), []byte(body), 0o644)
		if _, err := ReadSource(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadSource(%s) = %v, want error containing %q", body, err, want)
		}
	}
	if _, err := ReadSource(t.TempDir()); !errors.Is(err, ErrNoSource) {
		t.Errorf("ReadSource of an empty dir = %v, want ErrNoSource", err)
	}
}

func TestProcessRecordSurvivesPidReuse(t *testing.T) {
	p, err := ProcessOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Alive() {
		t.Fatal("own process not alive")
	}
	reused := Process{PID: p.PID, StartTime: p.StartTime + 1}
	if reused.Alive() {
		t.Fatal("a different start time must not count as the same process")
	}
	dir := t.TempDir()
	if err := WriteProcess(dir, p); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadProcess(dir); err != nil || *got != p {
		t.Fatalf("ReadProcess = %v, %v", got, err)
	}
}

func TestTrustedOnlyForStoreEntries(t *testing.T) {
	d := newDir(t)
	p := importFor(t, d, "vm", CurrentLink, writeRunner(t, filepath.Join(t.TempDir(), "r"), "true", ""))
	outside := writeRunner(t, filepath.Join(t.TempDir(), "evil"), "true", "")
	os.Symlink(outside, filepath.Join(t.TempDir(), "x"))
	leftover := filepath.Join(d.Root, StoreDir, ".tmp-1")
	mustMkdir(t, leftover)
	for path, want := range map[string]bool{
		p:                               true,
		d.Path("vm", CurrentLink):       true, // through the VM's link
		d.Path("vm", "current/bin/.."):  true,
		outside:                         false,
		leftover:                        false,
		filepath.Join(d.Root, StoreDir): false,
		filepath.Join(p, "bin"):         false, // inside an entry, not an entry
	} {
		if _, got := d.Trusted(path); got != want {
			t.Errorf("Trusted(%s) = %v, want %v", path, got, want)
		}
	}
	// A VM user re-points current: no longer trusted.
	os.Remove(d.Path("vm", CurrentLink))
	os.Symlink(outside, d.Path("vm", CurrentLink))
	if _, ok := d.Trusted(d.Path("vm", "current/bin/..")); ok {
		t.Error("re-pointed current still trusted")
	}
}

// A busy lock says who holds it, and gives up after LockTimeout or when
// the context ends; lock files are the owner's alone.
func TestLockWaitSaysWho(t *testing.T) {
	d := newDir(t)
	unlock, err := d.Lock(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	var said []string
	d.Waiting = func(msg string) { said = append(said, msg) }
	d.LockTimeout = 100 * time.Millisecond
	_, err = d.Lock(context.Background(), "web")
	holder := fmt.Sprintf("pid %d (state.test", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), "still held by "+holder) || !strings.Contains(err.Error(), "after 100ms") {
		t.Fatalf("timed-out lock: %v", err)
	}
	if len(said) != 1 || !strings.Contains(said[0], `waiting for the lock on VM "web" held by `+holder) {
		t.Fatalf("waiting message: %q", said)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.LockTimeout = time.Hour
	if _, err := d.Lock(ctx, "web"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled lock: %v", err)
	}

	for _, p := range []string{filepath.Join(d.Root, LocksDir), filepath.Join(d.Root, TmpDir)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v; want mode 0700", p, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(d.Root, LocksDir, "web")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v; want 0600", fi.Mode(), err)
	}
}
