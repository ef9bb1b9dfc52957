package hostfacts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor/all"
	"github.com/microvm-host/microvm/internal/hypervisor/cloudhypervisor"
)

// TestParseVersion feeds each hypervisor's version output, as its upstream
// source prints it, to the parser.
func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		name, output, want string
	}{
		{"qemu", "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n", "7.2.22"},
		{"cloud-hypervisor", "cloud-hypervisor v53.0-246-gae44c2971\nMigration protocol versions: 1.0\n", "53.0-246-gae44c2971"},
		{"cloud-hypervisor", "cloud-hypervisor v54.0.0\n", "54.0.0"},
		{"cloud-hypervisor", "cloud-hypervisor v50.1-dirty-extra\n", "50.1-dirty-extra"},
		{"firecracker", "Firecracker v1.16.0-dev\n\n", "1.16.0-dev"},
		{"firecracker", "Firecracker v1.9.0\n\n", "1.9.0"},
		{"crosvm", "crosvm 0.1.0\n", "0.1.0"},
		{"crosvm", "crosvm 0.1.0-141.0\n", "0.1.0-141.0"},
		{"kvmtool", "kvm tool 3.18.0\n", "3.18.0"},
		{"stratovirt", "StratoVirt 2.4.0 commit-id \n", "2.4.0"},
		{"stratovirt", "StratoVirt 2.5.0 commit-id d5b32037\n", "2.5.0"},
		{"alioth", "alioth-cli 0.12.0\n", "0.12.0"},
	} {
		got, err := ParseVersion(tc.name, tc.output)
		if err != nil || got != tc.want {
			t.Errorf("ParseVersion(%s, %q) = %q, %v; want %q", tc.name, tc.output, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ name, output, err string }{
		{"cloud-hypervisor", "Firecracker v1.9.0\n", `unexpected version output "Firecracker v1.9.0"`},
		{"stratovirt", "StratoVirt Unknown\n", `version "Unknown" in "StratoVirt Unknown" has no release number`},
		{"crosvm", "crosvm UNKNOWN\n", "has no release number"},
		{"qemu", "", "unexpected version output"},
		{"xen", "Xen 4.17", `no version format known for hypervisor "xen"`},
	} {
		if _, err := ParseVersion(tc.name, tc.output); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseVersion(%s, %q) = %v; want an error with %q", tc.name, tc.output, err, tc.err)
		}
	}
}

// TestEveryGeneratorHasAFormat: a new generator needs its version format.
func TestEveryGeneratorHasAFormat(t *testing.T) {
	for _, g := range all.Generators() {
		if _, ok := versionFormats[g.Name()]; !ok {
			t.Errorf("no version format for %s", g.Name())
		}
	}
}

func TestKernelHasIOUring(t *testing.T) {
	for release, want := range map[string]bool{
		"6.1.0-18-amd64":        true,
		"5.10.51":               true,
		"5.10.50-1-cloud-amd64": false,
		"5.4.0-150-generic":     false,
		"6.18.0":                true,
		"garbage":               false,
	} {
		if got := kernelHasIOUring(release); got != want {
			t.Errorf("kernelHasIOUring(%q) = %t", release, got)
		}
	}
}

// fakeBinary writes an executable script called name into a directory
// put first on PATH.
func fakeBinary(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return path
}

func TestProbeFindsBinaryAndVersion(t *testing.T) {
	path := fakeBinary(t, "cloud-hypervisor", `[ "$1" = --version ] && echo "cloud-hypervisor v52.0" && exit 0; exit 1`)
	f, err := Probe(t.Context(), cloudhypervisor.Generator{}, KVMOff, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if f.Binary != path || f.Version != "52.0" {
		t.Errorf("Probe = binary %q version %q; want %q, 52.0", f.Binary, f.Version, path)
	}
	// The runner-time probe finds the same.
	if v, err := InstalledVersion(t.Context())("cloud-hypervisor", "cloud-hypervisor"); err != nil || v != "52.0" {
		t.Errorf("InstalledVersion = %q, %v", v, err)
	}
}

func TestProbeWithoutBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f, err := Probe(t.Context(), cloudhypervisor.Generator{}, KVMOff, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if f.Binary != "" || f.Version != "" {
		t.Errorf("Probe without cloud-hypervisor = binary %q version %q; want neither", f.Binary, f.Version)
	}
	if _, err := InstalledVersion(t.Context())("cloud-hypervisor", "cloud-hypervisor"); err == nil {
		t.Error("InstalledVersion without the binary: no error")
	}
}

func TestProbeBinaryThatDoesNotTell(t *testing.T) {
	path := fakeBinary(t, "cloud-hypervisor", `echo "error: unexpected argument" >&2; exit 2`)
	f, err := Probe(t.Context(), cloudhypervisor.Generator{}, KVMOff, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Found but silent: the path is kept, the version stays unknown.
	if f.Binary != path || f.Version != "" {
		t.Errorf("Probe = binary %q version %q", f.Binary, f.Version)
	}
	if _, err := Version(t.Context(), "cloud-hypervisor", path); err == nil || !strings.Contains(err.Error(), "exit status 2") {
		t.Errorf("Version = %v", err)
	}
}
