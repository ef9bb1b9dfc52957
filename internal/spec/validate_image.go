package spec

import (
	"fmt"

	"github.com/microvm-host/microvm/internal/oci/imageref"
)

// validateImage checks the reference's form; whether the image exists and
// says what to run is checked when the runner is built.
func (s *Spec) validateImage(errs *errorList) {
	if s.Image == "" {
		return
	}
	errs.noLineBreak("image", s.Image)
	if _, err := imageref.Parse(s.Image); err != nil {
		errs.check("image", err)
	}
	if s.Initrd != "" {
		errs.add("initrd", "set together with image; an image boots with microvm's own initramfs, whose init runs the image's process: leave initrd out")
	}
	if s.CloudInit != nil {
		errs.add("cloudInit", "set together with image; nothing in an image VM reads a cloud-init seed: pass configuration through the image, its environment, or a share")
	}
	if i, ok := s.RootVolume(); ok {
		errs.add(fmt.Sprintf("volumes[%d].root", i), "set together with image; an image VM boots its image's root file system: mount volumes inside it with microvm.volume= in kernelParams instead")
	}
	if s.HostModules {
		errs.add("hostModules", "set together with image; an image VM's initramfs carries the modules it needs: leave hostModules out")
	}
	if n := len(s.Volumes) + 1; n > MaxVolumes {
		errs.add("image", "the image's root disk is disk %d with %d volumes; at most %d disks fit the drive ids vda to vdz", n, len(s.Volumes), MaxVolumes)
	}
}
