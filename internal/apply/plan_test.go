package apply

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// fakeExpect says a spec source builds the system its map names for it.
type fakeExpect map[string]string

func (f fakeExpect) Expect(_ context.Context, src state.Source, name, _ string, _ bool) (source.Expected, error) {
	sys, ok := f[src.Ref]
	if !ok {
		return source.Expected{}, errors.New("nix is not installed")
	}
	return source.Expected{System: sys}, nil
}

// spec is a spec-file source record, as fakeParse makes them.
func spec(ref string) state.Source { return state.Source{Kind: state.SourceSpec, Ref: ref} }

// fakeParse accepts refs ending in .toml; others "do not exist".
func fakeParse(ref, name string) (state.Source, error) {
	if !strings.HasSuffix(ref, ".toml") {
		return state.Source{}, errors.New("source " + ref + ": no such file or directory")
	}
	return spec(ref), nil
}

// vm is an existing VM of owner o, created from src, whose current runner
// names system cur and whose booted one (if booted != "") names booted.
func vm(name string, o state.Owner, src string, cur, booted string) state.VM {
	v := state.VM{Name: name, Dir: "/state/" + name, Owner: o, Current: "/store/" + cur, CurrentSystem: cur}
	if src != "" {
		s := spec(src)
		v.Source = &s
	}
	if booted != "" {
		v.Booted, v.BootedSystem = "/store/"+booted, booted
	}
	return v
}

func TestCompute(t *testing.T) {
	expect := fakeExpect{"/etc/microvm/a.toml": "sys-a2", "/etc/microvm/b.toml": "sys-b1"}
	for _, tc := range []struct {
		name string
		decl map[string]hostconfig.VM
		vms  []state.VM
		want []Step
	}{{
		name: "declared and missing: create",
		decl: map[string]hostconfig.VM{"a": {Source: "/etc/microvm/a.toml"}},
		want: []Step{{Name: "a", Action: Create, Reason: "declared and missing", Source: spec("/etc/microvm/a.toml")}},
	}, {
		name: "declared with autostart: create, then start",
		decl: map[string]hostconfig.VM{"a": {Source: "/etc/microvm/a.toml", Autostart: true}},
		want: []Step{{Name: "a", Action: Create, Reason: "declared and missing; then started (autostart)", Source: spec("/etc/microvm/a.toml"), Start: true}},
	}, {
		name: "up to date: keep",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml"}},
		vms:  []state.VM{vm("b", state.OwnerApply, "/etc/microvm/b.toml", "sys-b1", "sys-b1")},
		want: []Step{{Name: "b", Action: Keep, Reason: "up to date", Source: spec("/etc/microvm/b.toml")}},
	}, {
		name: "source builds another system: update",
		decl: map[string]hostconfig.VM{"a": {Source: "/etc/microvm/a.toml"}},
		vms:  []state.VM{vm("a", state.OwnerApply, "/etc/microvm/a.toml", "sys-a1", "")},
		want: []Step{{Name: "a", Action: Update, Reason: "the source builds something else than current", Source: spec("/etc/microvm/a.toml")}},
	}, {
		name: "update of a running VM with restartIfChanged: update, then restart",
		decl: map[string]hostconfig.VM{"a": {Source: "/etc/microvm/a.toml", RestartIfChanged: true}},
		vms:  []state.VM{vm("a", state.OwnerApply, "/etc/microvm/a.toml", "sys-a1", "sys-a1")},
		want: []Step{{Name: "a", Action: Update, Reason: "the source builds something else than current; then restarted if it runs another runner (restartIfChanged)", Source: spec("/etc/microvm/a.toml"), RestartIfChanged: true}},
	}, {
		name: "another source declared: update from it",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml"}},
		vms:  []state.VM{vm("b", state.OwnerApply, "/srv/old.toml", "sys-b1", "")},
		want: []Step{{Name: "b", Action: Update, Reason: "source changed from spec /srv/old.toml to spec /etc/microvm/b.toml", Source: spec("/etc/microvm/b.toml"), SourceChanged: true}},
	}, {
		name: "booted differs from current, restartIfChanged: restart",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml", RestartIfChanged: true}},
		vms:  []state.VM{vm("b", state.OwnerApply, "/etc/microvm/b.toml", "sys-b1", "sys-b0")},
		want: []Step{{Name: "b", Action: Restart, Reason: "booted differs from current (restartIfChanged)", Source: spec("/etc/microvm/b.toml"), RestartIfChanged: true}},
	}, {
		name: "booted differs from current, no restartIfChanged: keep",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml"}},
		vms:  []state.VM{vm("b", state.OwnerApply, "/etc/microvm/b.toml", "sys-b1", "sys-b0")},
		want: []Step{{Name: "b", Action: Keep, Reason: "booted differs from current; restart it to boot current, or set restartIfChanged", Source: spec("/etc/microvm/b.toml")}},
	}, {
		name: "created by apply, no longer declared: remove, data kept",
		vms:  []state.VM{vm("old", state.OwnerApply, "/srv/old.toml", "sys-o", "sys-o")},
		want: []Step{{Name: "old", Action: Remove, Reason: "created by apply, no longer declared; its data is kept"}},
	}, {
		name: "no longer declared, purgeOnRemove: remove with data",
		decl: map[string]hostconfig.VM{"old": {PurgeOnRemove: true}},
		vms:  []state.VM{vm("old", state.OwnerApply, "/srv/old.toml", "sys-o", "")},
		want: []Step{{Name: "old", Action: Remove, Reason: "created by apply, no longer declared; its data is deleted (purgeOnRemove)", Purge: true}},
	}, {
		name: "made by hand: never touched, declared or not",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml"}},
		vms: []state.VM{
			vm("b", state.OwnerNone, "/srv/other.toml", "sys-x", "sys-y"),
			vm("mine", state.OwnerNone, "/srv/mine.toml", "sys-m", ""),
		},
		want: []Step{{Name: "b", Action: Keep, Reason: "made by hand, so apply leaves it alone; to hand it to apply, as root: echo apply > /state/b/owner"}},
	}, {
		name: "another tool's: never touched, declared or not",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml"}},
		vms: []state.VM{
			vm("b", state.OwnerKubelet, "/srv/b.toml", "sys-x", ""),
			vm("pod", state.OwnerKubelet, "/srv/pod.toml", "sys-p", ""),
		},
		want: []Step{{Name: "b", Action: Keep, Reason: "created by kubelet, so apply leaves it alone"}},
	}, {
		name: "broken source: that step cannot, the others are planned",
		decl: map[string]hostconfig.VM{"a": {Source: "/etc/microvm/a.toml"}, "z": {Source: "/nowhere/z"}},
		vms:  []state.VM{vm("z", state.OwnerApply, "/etc/microvm/z.toml", "sys-z", "")},
		want: []Step{
			{Name: "a", Action: Create, Reason: "declared and missing", Source: spec("/etc/microvm/a.toml")},
			{Name: "z", Action: Update, Err: errors.New("source /nowhere/z: no such file or directory")},
		},
	}, {
		name: "source that cannot be evaluated: that step cannot",
		decl: map[string]hostconfig.VM{"c": {Source: "/etc/microvm/c.toml"}},
		vms:  []state.VM{vm("c", state.OwnerApply, "/etc/microvm/c.toml", "sys-c", "")},
		want: []Step{{Name: "c", Action: Update, Source: spec("/etc/microvm/c.toml"), Err: errors.New("cannot tell what spec /etc/microvm/c.toml builds now: nix is not installed")}},
	}, {
		name: "broken VM of apply's: that step cannot",
		decl: map[string]hostconfig.VM{"b": {Source: "/etc/microvm/b.toml"}},
		vms:  []state.VM{{Name: "b", Owner: state.OwnerApply, Problems: []string{"no current link"}}},
		want: []Step{{Name: "b", Action: Update, Source: spec("/etc/microvm/b.toml"), Err: errors.New("the VM is broken: no current link")}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &hostconfig.Config{VM: tc.decl}
			got := Compute(context.Background(), cfg, tc.vms, World{Expect: expect, Parse: fakeParse})
			if diff := cmp.Diff(tc.want, got.Steps, cmpopts.EquateEmpty(), cmp.Comparer(sameError)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

func TestPlanString(t *testing.T) {
	p := &Plan{Steps: []Step{
		{Name: "a", Action: Create, Reason: "declared and missing"},
		{Name: "web", Action: Keep, Reason: "up to date"},
		{Name: "z", Action: Update, Err: errors.New("source /x: no such file or directory")},
	}}
	want := "  a    create           declared and missing\n" +
		"  web  keep             up to date\n" +
		"  z    update           cannot: source /x: no such file or directory\n"
	if got := p.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if n := p.Changes(); n != 2 {
		t.Errorf("Changes() = %d; want 2", n)
	}
	keep := &Plan{Steps: []Step{{Name: "web", Action: Keep, Reason: "up to date"}}}
	if got, want := keep.String(), "  web  keep             up to date\nNothing to do.\n"; got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := (&Plan{}).String(); got != "Nothing to do.\n" {
		t.Errorf("empty plan: %q", got)
	}
}

// TestComputeRunnerSources plans against a real state directory and real
// runner-directory sources, compared by content like list does: a VM
// created from a runner that changed since is updated, the others kept.
func TestComputeRunnerSources(t *testing.T) {
	root := t.TempDir()
	d, err := state.Open(filepath.Join(root, "state"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &hostconfig.Config{VM: map[string]hostconfig.VM{}}
	for _, name := range []string{"same", "changed"} {
		src := writeRunner(t, filepath.Join(root, "src", name), "v1")
		makeVM(t, d, name, src, state.OwnerApply)
		cfg.VM[name] = hostconfig.VM{Source: src}
	}
	writeRunner(t, filepath.Join(root, "src", "changed"), "v2")
	vms, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	p := Compute(context.Background(), cfg, vms, World{Expect: &source.Builder{}, StorePath: d.StorePath})
	got := map[string]Action{}
	for _, s := range p.Steps {
		if s.Err != nil {
			t.Fatalf("%s: %v", s.Name, s.Err)
		}
		got[s.Name] = s.Action
	}
	if want := map[string]Action{"same": Keep, "changed": Update}; !cmp.Equal(got, want) {
		t.Errorf("plan %v; want %v", got, want)
	}
}

// writeRunner writes a minimal runner package in dir whose run script
// says version, and returns dir.
func writeRunner(t testing.TB, dir, version string) string {
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/microvm-run"), []byte("#!/bin/sh\n# "+version+"\nexec sleep 1000\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// makeVM creates the VM name in d from the runner directory src, owned by
// o, as create does.
func makeVM(t testing.TB, d *state.Dir, name, src string, o state.Owner) {
	ctx := context.Background()
	stage, err := d.Stage(name)
	if err != nil {
		t.Fatal(err)
	}
	defer stage.Abort()
	p, release, err := d.Import(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if err := stage.SetLink(state.CurrentLink, p); err != nil {
		t.Fatal(err)
	}
	if err := state.WriteSource(stage.Path, state.Source{Kind: state.SourceRunner, Ref: src}); err != nil {
		t.Fatal(err)
	}
	if o != state.OwnerNone {
		if err := stage.SetOwner(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := stage.Commit(-1); err != nil {
		t.Fatal(err)
	}
}
