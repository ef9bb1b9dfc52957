package generate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/alioth"
	"github.com/microvm-host/microvm/internal/hypervisor/crosvm"
	"github.com/microvm-host/microvm/internal/hypervisor/firecracker"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/spec"
)

var facts = hypervisor.Facts{Arch: "x86_64", TSCKHz: 2000000}

// parse writes a spec and a kernel next to it, and parses it.
func parse(t *testing.T, body string) (*spec.Spec, string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte("kernel v1"), 0o644)
	path := filepath.Join(dir, "vm.toml")
	if err := os.WriteFile(path, []byte("kernel = \"vmlinuz\"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	s.ResolvePaths(dir)
	return s, path
}

func scriptOf(p *runner.Package, name string) string {
	for _, s := range p.Scripts {
		if s.Name == name {
			return string(s.Content)
		}
	}
	return ""
}

func TestScriptsQuoteWhatComesFromTheSpec(t *testing.T) {
	s, path := parse(t, `
kernelParams = ["a'b", "$(touch /tmp/pwned)"]
[[volumes]]
image = "my disk;rm -rf ~.img"
size = 8
`)
	p, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	run := scriptOf(p, "microvm-run")
	for _, want := range []string{
		`--image 'my disk;rm -rf ~.img'`,
		`"earlyprintk=ttyS0 console=ttyS0 reboot=t panic=-1 tsc_early_khz=2000000 a'b \$(touch /tmp/pwned)"`,
		"exec /usr/bin/microvm runner exec --argv0 microvm@vm -- qemu-system-x86_64 ",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("microvm-run lacks %q:\n%s", want, run)
		}
	}
	// The script must parse as POSIX sh and substitute nothing.
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(run), "microvm-run")
	if err != nil {
		t.Fatalf("microvm-run is not valid sh: %v", err)
	}
	syntax.Walk(f, func(n syntax.Node) bool {
		switch n.(type) {
		case *syntax.CmdSubst, *syntax.ParamExp:
			t.Errorf("substitution at %s in:\n%s", n.Pos(), run)
		}
		return true
	})
}

func TestRunnerFilesResolveAtRunTime(t *testing.T) {
	s, path := parse(t, "hypervisor = \"firecracker\"\n")
	p, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: firecracker.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	run := scriptOf(p, "microvm-run")
	if !strings.Contains(run, `runner=$(dirname -- "$0")/..`) || !strings.Contains(run, `--config-file "$runner"/share/microvm/firecracker.json`) {
		t.Errorf("firecracker config not resolved against the runner:\n%s", run)
	}
	var names []string
	for _, f := range p.Files {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "build.json,firecracker.json" {
		t.Errorf("files %v", names)
	}
}

func TestHostScriptsAndMacvtapFDs(t *testing.T) {
	s, path := parse(t, `
vcpu = 2
[[interfaces]]
type = "tap"
id = "vm-tap"
mac = "02:00:00:00:00:01"
[[interfaces]]
type = "macvtap"
id = "vm-mac"
mac = "02:00:00:00:00:02"
macvtap = { link = "eth0", mode = "bridge" }
[[shares]]
proto = "virtiofs"
tag = "data"
source = "data"
`)
	p, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	if got := scriptOf(p, "tap-up"); !strings.HasSuffix(got, "exec /usr/bin/microvm host tap-up --runner \"$runner\" --builtin vm\n") {
		t.Errorf("tap-up:\n%s", got)
	}
	if got := scriptOf(p, "virtiofsd-run"); !strings.HasSuffix(got, "exec /usr/bin/microvm host virtiofsd --runner \"$runner\" vm\n") {
		t.Errorf("virtiofsd-run:\n%s", got)
	}
	run := scriptOf(p, "microvm-run")
	for _, fd := range []string{"3", "4"} { // 2 queues: vcpu 2, multi-queue
		if !strings.Contains(run, "exec "+fd+`<>"/dev/tap$(cat /sys/class/net/vm-mac/ifindex)"`) {
			t.Errorf("macvtap fd %s not opened:\n%s", fd, run)
		}
	}
	if !p.TapFlags.MultiQueue || !p.Meta.TapMultiQueue || len(p.Taps) != 1 || len(p.Macvtaps) != 1 || len(p.Shares) != 1 {
		t.Errorf("share/microvm lists wrong: %+v", p.Runner)
	}
}

func TestIdentityFollowsSpecAndInputs(t *testing.T) {
	s, path := parse(t, "mem = 256\n")
	o := Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts}
	p1, err := Runner(t.Context(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := Runner(t.Context(), s, o)
	if p1.System != p2.System {
		t.Fatal("same spec and inputs, different identities")
	}
	exp, err := ExpectedSystem(t.Context(), s, "qemu", facts, o.Microvm, path, nil, nil)
	if err != nil || exp != p1.System {
		t.Fatalf("ExpectedSystem = %q, %v; built %q", exp, err, p1.System)
	}
	// The kernel's content changes: another identity.
	os.WriteFile(s.Kernel, []byte("kernel v2"), 0o644)
	p3, _ := Runner(t.Context(), s, o)
	if p3.System == p1.System {
		t.Fatal("kernel changed, identity did not")
	}
	// Another spec value: another identity.
	s.Mem = 384
	if p4, _ := Runner(t.Context(), s, o); p4.System == p3.System {
		t.Fatal("spec changed, identity did not")
	}
}

func TestUnsupportedFeaturesAreRefused(t *testing.T) {
	s, path := parse(t, "hypervisor = \"firecracker\"\n[[shares]]\nproto = \"virtiofs\"\ntag = \"x\"\nsource = \"x\"\n")
	_, err := Runner(t.Context(), s, Options{SpecPath: path, Generator: firecracker.Generator{}, Facts: facts})
	if err == nil || !strings.Contains(err.Error(), "firecracker cannot share directories") {
		t.Fatalf("Runner = %v", err)
	}
}

// TestTerminalMacvtapAndControlBinary: alioth's console needs a terminal
// and its macvtaps are device paths; crosvm's control commands run the
// crosvm the runner was made with.
func TestTerminalMacvtapAndControlBinary(t *testing.T) {
	s, path := parse(t, `
hypervisor = "alioth"
prettyProcnames = false
[[interfaces]]
type = "macvtap"
id = "vm-mac"
mac = "02:00:00:00:00:02"
macvtap = { link = "eth0", mode = "bridge" }
`)
	p, err := Runner(context.Background(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: alioth.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	run := scriptOf(p, "microvm-run")
	want := `exec /usr/bin/microvm runner exec --ensure-tty -- alioth run ` // no --argv0: prettyProcnames is off
	if !strings.Contains(run, want) {
		t.Errorf("microvm-run lacks %q:\n%s", want, run)
	}
	want = ` --net 'tap='"/dev/tap$(cat /sys/class/net/vm-mac/ifindex)"',mac=02:00:00:00:00:02,queue_pairs=1,mtu=1500'` + "\n"
	if !strings.Contains(run, want) {
		t.Errorf("microvm-run lacks %q:\n%s", want, run)
	}
	if _, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(run), "microvm-run"); err != nil {
		t.Errorf("microvm-run is not valid sh: %v", err)
	}

	s, path = parse(t, "hypervisor = \"crosvm\"\nballoon = true\n")
	f := facts
	f.Binary = "/opt/crosvm/bin/crosvm"
	p, err = Runner(context.Background(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: crosvm.Generator{}, Facts: f})
	if err != nil {
		t.Fatal(err)
	}
	for script, want := range map[string]string{
		"microvm-shutdown": "exec /usr/bin/microvm runner shutdown --method crosvm --socket vm.sock --binary /opt/crosvm/bin/crosvm\n",
		"microvm-balloon":  `exec /usr/bin/microvm runner balloon --method crosvm --socket vm.sock --binary /opt/crosvm/bin/crosvm -- "$@"` + "\n",
	} {
		if got := scriptOf(p, script); !strings.HasSuffix(got, want) {
			t.Errorf("%s:\n%swant it to end in\n%s", script, got, want)
		}
	}
	if run := scriptOf(p, "microvm-run"); strings.Contains(run, "--ensure-tty") {
		t.Errorf("crosvm needs no terminal, but:\n%s", run)
	}
}

// TestTapNetworks: a tap naming a network is listed in tap-networks with
// its MAC (lowercase, as the DHCP server compares it); the others are
// not. A spec without networks hashes as before networks existed, so
// runners built then are not outdated by this field.
func TestTapNetworks(t *testing.T) {
	s, path := parse(t, `
[[interfaces]]
type = "tap"
id = "vm-nat"
mac = "02:00:00:00:00:AB"
network = "default"
[[interfaces]]
type = "tap"
id = "vm-plain"
mac = "02:00:00:00:00:02"
`)
	p, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	want := []runner.TapNetwork{{ID: "vm-nat", Network: "default", MAC: "02:00:00:00:00:ab"}}
	if len(p.TapNetworks) != 1 || p.TapNetworks[0] != want[0] {
		t.Errorf("TapNetworks = %+v; want %+v", p.TapNetworks, want)
	}
	dir := filepath.Join(t.TempDir(), "runner")
	if err := runner.Write(dir, p); err != nil {
		t.Fatal(err)
	}
	r, err := runner.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.NetworkOf("vm-nat") != "default" || r.NetworkOf("vm-plain") != "" {
		t.Errorf("loaded TapNetworks = %+v", r.TapNetworks)
	}
	b, err := json.Marshal(spec.Interface{Type: "tap", ID: "x", MAC: "02:00:00:00:00:01"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Network") {
		t.Errorf("an interface without a network hashes as %s; want no Network key, so identities stay", b)
	}
}
