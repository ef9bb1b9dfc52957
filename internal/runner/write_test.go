package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func script(name string) Script {
	return Script{Name: name, Content: []byte("#!/bin/sh\necho " + name + "\n")}
}

// testPackages covers every part of the format. Helpers and
// TapFlags.VnetHdr are set as Load will report them.
func testPackages() map[string]*Package {
	var shares []Share
	for i := range 12 {
		shares = append(shares, Share{
			Tag:    fmt.Sprintf("share%02d", i),
			Source: fmt.Sprintf("/srv/vm/%d", i),
			Socket: fmt.Sprintf("vm-virtiofs-share%02d.sock", i),
		})
	}
	return map[string]*Package{
		"minimal": {
			Runner:  Runner{TapFlags: TapFlags{VnetHdr: true}},
			Scripts: []Script{script("microvm-run")},
		},
		"taps-multi-queue": {
			Runner: Runner{
				Meta:     &Meta{Hypervisor: "qemu", CanShutdown: true, TapMultiQueue: true},
				Taps:     []string{"vm-b", "vm-a", "vm-0123456789ab"},
				TapFlags: TapFlags{VnetHdr: true, MultiQueue: true},
				Helpers:  Helpers{Shutdown: true, TapUp: true, TapDown: true},
			},
			Scripts: []Script{script("tap-up"), script("microvm-shutdown"), script("microvm-run"), script("tap-down")},
		},
		"tap-networks": {
			Runner: Runner{
				Taps:        []string{"vm-a", "vm-b"},
				TapFlags:    TapFlags{VnetHdr: true},
				TapNetworks: []TapNetwork{{ID: "vm-b", Network: "default", MAC: "02:00:00:00:00:0b"}},
			},
			Scripts: []Script{script("microvm-run")},
		},
		"macvtaps": {
			Runner: Runner{
				TapFlags: TapFlags{VnetHdr: true},
				Macvtaps: []Macvtap{
					{ID: "vm-mv0", MAC: "02:00:00:00:00:01", Link: "eth0", Mode: "bridge"},
					{ID: "vm-mv1", MAC: "02:00:00:00:00:02", Link: "eth1", Mode: "passthru"},
				},
				Helpers: Helpers{MacvtapUp: true, MacvtapDown: true},
			},
			Scripts: []Script{script("microvm-run"), script("macvtap-up"), script("macvtap-down")},
		},
		"pci-usb": {
			Runner: Runner{
				TapFlags:   TapFlags{VnetHdr: true},
				PCIDevices: []string{"0000:01:00.0", "0000:02:1f.7"},
				USBDevices: []string{"vendorid=0x0bda,productid=0x2838"},
				Helpers:    Helpers{PCISetup: true},
			},
			Scripts: []Script{script("microvm-run"), script("pci-setup")},
		},
		"virtiofs": {
			Runner: Runner{
				TapFlags: TapFlags{VnetHdr: true},
				Shares:   shares,
				Helpers:  Helpers{VirtiofsdRun: true, VirtiofsdReload: true, VirtiofsdShutdown: true},
			},
			Scripts: []Script{script("microvm-run"), script("virtiofsd-run"), script("virtiofsd-reload"), script("virtiofsd-shutdown")},
		},
		"system-meta": {
			Runner: Runner{
				Meta:     &Meta{Hypervisor: "cloud-hypervisor", CanShutdown: true, SupportsNotifySocket: true},
				TapFlags: TapFlags{VnetHdr: true},
				System:   "/nix/store/8y2l0m8y9bd2k2a1q4dv5hc0kaps0sdz-nixos-system-vm-25.05",
				Helpers:  Helpers{Shutdown: true, Balloon: true},
			},
			Scripts: []Script{script("microvm-run"), script("microvm-shutdown"), script("microvm-balloon"), script("ssh-vm")},
		},
	}
}

func TestWriteRoundTrip(t *testing.T) {
	for name, p := range testPackages() {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "runner")
			if err := Write(dir, p); err != nil {
				t.Fatalf("Write: %v", err)
			}
			r, err := Load(dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(&p.Runner, r, cmpopts.IgnoreFields(Runner{}, "Dir")); diff != "" {
				t.Errorf("Load after Write mismatch (-written +loaded):\n%s", diff)
			}
			for _, s := range p.Scripts {
				got, err := os.ReadFile(filepath.Join(dir, "bin", s.Name))
				if err != nil || string(got) != string(s.Content) {
					t.Errorf("bin/%s = %q, %v; want %q", s.Name, got, err, s.Content)
				}
			}
		})
	}
}

// tree describes every entry under dir: mode, and content or link target.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(data)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteDeterministic(t *testing.T) {
	for name, p := range testPackages() {
		t.Run(name, func(t *testing.T) {
			a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			if err := Write(a, p); err != nil {
				t.Fatal(err)
			}
			old := syscall.Umask(0o077) // the umask must not leak into the output
			err := Write(b, p)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tree(t, a), tree(t, b)); diff != "" {
				t.Errorf("two writes differ (-a +b):\n%s", diff)
			}
		})
	}
}

// TestWriteFormat pins the bytes microvm.nix writes, which old hosts parse.
func TestWriteFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runner")
	p := testPackages()["taps-multi-queue"]
	p.Macvtaps = []Macvtap{{ID: "vm-mv0", MAC: "02:00:00:00:00:01", Link: "eth0", Mode: "bridge"}}
	p.Shares = []Share{{Tag: "home", Source: "home", Socket: "vm-virtiofs-home.sock"}}
	p.System = "/nix/store/x-system"
	if err := Write(dir, p); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		".":                            "drwxr-xr-x",
		"bin":                          "drwxr-xr-x",
		"bin/microvm-run":              "-rwxr-xr-x #!/bin/sh\necho microvm-run\n",
		"bin/microvm-shutdown":         "-rwxr-xr-x #!/bin/sh\necho microvm-shutdown\n",
		"bin/tap-down":                 "-rwxr-xr-x #!/bin/sh\necho tap-down\n",
		"bin/tap-up":                   "-rwxr-xr-x #!/bin/sh\necho tap-up\n",
		"share":                        "drwxr-xr-x",
		"share/microvm":                "drwxr-xr-x",
		TapFlagsFile:                   "-rw-r--r-- vnet_hdr\nmulti_queue\n",
		TapInterfacesFile:              "-rw-r--r-- vm-b\nvm-a\nvm-0123456789ab\n",
		MacvtapInterfacesFile:          "-rw-r--r-- vm-mv0 02:00:00:00:00:01 eth0 bridge\n",
		VirtiofsDir:                    "drwxr-xr-x",
		VirtiofsDir + "/home":          "drwxr-xr-x",
		shareFile("home", shareSource): "-rw-r--r-- home\n",
		shareFile("home", shareSocket): "-rw-r--r-- vm-virtiofs-home.sock\n",
		SystemLink:                     "Lrwxrwxrwx -> /nix/store/x-system",
		MetaFile: `-rw-r--r-- {
  "hypervisor": "qemu",
  "canShutdown": true,
  "supportsNotifySocket": false,
  "tapMultiQueue": true
}
`,
	}
	if diff := cmp.Diff(want, tree(t, dir)); diff != "" {
		t.Errorf("written tree mismatch (-want +got):\n%s", diff)
	}

	// microvm.nix always writes tap-flags with vnet_hdr, even with no taps.
	minDir := filepath.Join(t.TempDir(), "min")
	if err := Write(minDir, &Package{Scripts: []Script{script("microvm-run")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(minDir, TapFlagsFile)); string(got) != "vnet_hdr\n" {
		t.Errorf("tap-flags = %q, want %q", got, "vnet_hdr\n")
	}
}

func TestWriteRefuses(t *testing.T) {
	ok := func() *Package { return &Package{Scripts: []Script{script("microvm-run")}} }
	for _, c := range []struct {
		name string
		edit func(p *Package)
		want string
	}{
		{"no microvm-run", func(p *Package) { p.Scripts = []Script{script("microvm-shutdown")} }, "bin/microvm-run: missing"},
		{"script with slash", func(p *Package) { p.Scripts = append(p.Scripts, script("../evil")) }, `bin: script name "../evil" contains '/'`},
		{"script dot dot", func(p *Package) { p.Scripts = append(p.Scripts, script("..")) }, `script name ".." is reserved`},
		{"duplicate script", func(p *Package) { p.Scripts = append(p.Scripts, script("microvm-run")) }, `bin/microvm-run: duplicate script "microvm-run"`},
		{"tag escapes", func(p *Package) { p.Shares = []Share{{Tag: "../x", Source: "s", Socket: "k"}} }, `tag "../x" contains '/'`},
		{"duplicate tag", func(p *Package) {
			p.Shares = []Share{{Tag: "a", Source: "s", Socket: "k1"}, {Tag: "a", Source: "s", Socket: "k2"}}
		}, `share/microvm/virtiofs/a: duplicate share tag "a"`},
		{"newline in tap", func(p *Package) { p.Taps = []string{"vm0", "vm1\nvm2"} }, `share/microvm/tap-interfaces:2: value "vm1\nvm2" contains a newline`},
		{"newline in socket", func(p *Package) { p.Shares = []Share{{Tag: "a", Source: "s", Socket: "k\n"}} }, `share/microvm/virtiofs/a/socket:1: value "k\n" contains a newline`},
		// The rest is caught by Load on the temporary directory.
		{"bad tap", func(p *Package) { p.Taps = []string{"vm0", "vm-0123456789abc"} }, "share/microvm/tap-interfaces:2: interface name"},
		{"space in macvtap", func(p *Package) {
			p.Macvtaps = []Macvtap{{ID: "vm 0", MAC: "02:00:00:00:00:01", Link: "eth0", Mode: "bridge"}}
		}, `share/microvm/macvtap-interfaces:1: expected 4 fields "id mac link mode", got 5`},
		{"empty source", func(p *Package) { p.Shares = []Share{{Tag: "a", Socket: "k"}} }, "share/microvm/virtiofs/a/source:1: blank line"},
		{"duplicate socket", func(p *Package) {
			p.Shares = []Share{{Tag: "a", Source: "s", Socket: "k"}, {Tag: "b", Source: "s", Socket: "./k"}}
		}, `share/microvm/virtiofs/b/socket:1: socket "./k" is also used by share "a"`},
		{"meta without shutdown", func(p *Package) { p.Meta = &Meta{Hypervisor: "qemu", CanShutdown: true} }, "canShutdown is true but bin/microvm-shutdown is missing"},
		{"meta multi-queue", func(p *Package) { p.Meta = &Meta{Hypervisor: "qemu", TapMultiQueue: true} }, "multi_queue is missing"},
		{"bad hypervisor", func(p *Package) { p.Meta = &Meta{Hypervisor: "xen"} }, `unknown hypervisor "xen"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			p := ok()
			c.edit(p)
			err := Write(filepath.Join(parent, "runner"), p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Write error = %v, want one containing %q", err, c.want)
			}
			if FirstError(err) == nil {
				t.Errorf("Write error %v holds no *Error", err)
			}
			// Nothing may be left behind, not even the temporary directory.
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("Write left %v behind", entries)
			}
		})
	}
}

func TestWriteRefusesExisting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runner")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	err := Write(dir, &Package{Scripts: []Script{script("microvm-run")}})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Write over an existing dir = %v, want fs.ErrExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Write changed the existing dir: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
		t.Errorf("Write left %v behind", entries)
	}
}

func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	for _, d := range []string{src, dst} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// os.Rename would replace the empty dst.
	if err := renameNoReplace(src, dst); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("renameNoReplace onto an empty dir = %v, want fs.ErrExist", err)
	}
	if err := os.Remove(dst); err != nil {
		t.Fatal(err)
	}
	if err := renameNoReplace(src, dst); err != nil {
		t.Fatal(err)
	}
}

func TestFirstError(t *testing.T) {
	if FirstError(nil) != nil || FirstError(errors.New("x")) != nil {
		t.Error("FirstError found an *Error where there is none")
	}
	first := &Error{Path: RunScript, Msg: "missing"}
	err := fmt.Errorf("vm %q: %w", "a", errors.Join(first, &Error{Path: TapFlagsFile}))
	if got := FirstError(err); got != first {
		t.Errorf("FirstError = %v, want %v", got, first)
	}
}
