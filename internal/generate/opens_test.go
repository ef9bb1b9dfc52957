package generate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
)

// TestBuildRecordsWhatTheHypervisorOpens: the pre-start check knows only
// what build.json lists, so every file the hypervisor opens as the VM user
// must be there, with the access it needs.
func TestBuildRecordsWhatTheHypervisorOpens(t *testing.T) {
	s, path := parse(t, `
initrd = "initrd.img"
[[volumes]]
image = "data.img"
size = 8
[[volumes]]
image = "/srv/base.img"
readOnly = true
autoCreate = false
[[shares]]
tag = "ro"
source = "/srv/ro"
mountPoint = "/ro"
[[shares]]
proto = "virtiofs"
tag = "state"
source = "state"
mountPoint = "/state"
`)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "initrd.img"), []byte("initrd"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	var b Build
	for _, f := range p.Files {
		if f.Name == BuildFile {
			if err := json.Unmarshal(f.Content, &b); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := filepath.Dir(path)
	want := []Open{
		{What: "kernel", Path: filepath.Join(dir, "vmlinuz"), Access: AccessRead},
		{What: "initrd", Path: filepath.Join(dir, "initrd.img"), Access: AccessRead},
		{What: "volumes[0].image", Path: "data.img", Access: AccessReadWrite, Created: true},
		{What: "volumes[1].image", Path: "/srv/base.img", Access: AccessRead},
		// virtiofs sources are virtiofsd's, which runs as root.
		{What: "shares[0].source", Path: "/srv/ro", Access: AccessDir},
	}
	if diff := cmp.Diff(want, b.Opens); diff != "" {
		t.Errorf("build.json opens (-want +got):\n%s", diff)
	}
}
