package spec

import (
	"slices"
	"testing"
)

func TestResolvePathsAndInputs(t *testing.T) {
	s := &Spec{Kernel: "boot/../bzImage", Initrd: "/abs/initrd", Volumes: []Volume{{Image: "data.img", AutoCreate: ptr(false)}}}
	if got, want := s.Inputs("/specs"), []InputFile{{"kernel", "/specs/bzImage"}, {"initrd", "/abs/initrd"}}; !slices.Equal(got, want) {
		t.Errorf("Inputs = %q; want %q (volume images are runtime data, not inputs)", got, want)
	}
	s.ResolvePaths("/specs")
	if s.Kernel != "/specs/bzImage" || s.Initrd != "/abs/initrd" {
		t.Errorf("after ResolvePaths kernel %q, initrd %q", s.Kernel, s.Initrd)
	}
	if s.Volumes[0].Image != "data.img" {
		t.Errorf("ResolvePaths changed volume image to %q; it is relative to the VM directory", s.Volumes[0].Image)
	}

	s = &Spec{Kernel: "/k"}
	s.ResolvePaths("/specs")
	if got := s.Inputs("/elsewhere"); !slices.Equal(got, []InputFile{{"kernel", "/k"}}) || s.Initrd != "" {
		t.Errorf("without initrd: Inputs = %q, initrd %q; want [/k] and no initrd", got, s.Initrd)
	}
}
