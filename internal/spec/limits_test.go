package spec_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/spec"
)

// TestMaxVolumesMatchesQemuDriveIDs ties MaxVolumes and its message to
// what the qemu generator emits: MaxVolumes volumes are vda to vdz.
func TestMaxVolumesMatchesQemuDriveIDs(t *testing.T) {
	s := &spec.Spec{Name: "vm", Kernel: "/k"}
	for i := range spec.MaxVolumes {
		s.Volumes = append(s.Volumes, spec.Volume{Image: fmt.Sprintf("v%d.img", i), Size: 1})
	}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("MaxVolumes volumes: %v", err)
	}
	cmd, err := qemu.Generator{}.Command(s, hypervisor.Facts{Arch: "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range cmd.Argv {
		if id, ok := strings.CutPrefix(a, "id="); ok && strings.HasPrefix(id, "vd") {
			id, _, _ = strings.Cut(id, ",")
			ids = append(ids, id)
		}
	}
	var want []string
	for c := 'a'; c <= 'z'; c++ {
		want = append(want, "vd"+string(c))
	}
	if !slices.Equal(ids, want) {
		t.Errorf("qemu drive ids for %d volumes: %q; want vda to vdz", spec.MaxVolumes, ids)
	}
}
