package spec

import (
	"fmt"
	"strings"

	"github.com/microvm-host/microvm/internal/oci/imageref"
)

// validateImage checks the reference's form; whether the image exists and
// says what to run is checked when the runner is built.
func (s *Spec) validateImage(errs *errorList) {
	if s.Image == "" {
		if s.Process != nil {
			errs.add("process", "set without image; [process] changes what an image VM runs: set image, or leave [process] out")
		}
		return
	}
	s.validateProcess(errs)
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

// MaxProcess bounds the bytes of a [process] table's strings together:
// they travel to the guest's init in its initramfs, which reads at most
// ociinit.MaxConfig of them, JSON-quoted.
const MaxProcess = 256 << 10

// validateProcess checks the [process] table: what the init could not
// pass to execve, and entries that are not NAME=VALUE.
func (s *Spec) validateProcess(errs *errorList) {
	p := s.Process
	if p == nil {
		return
	}
	const t = "process."
	if len(p.Command) > 0 && p.Command[0] == "" {
		errs.add(t+"command[0]", "empty; expected the program to run, a path or a name looked up in the image's PATH")
	}
	total := 0
	for _, l := range []struct {
		key  string
		list []string
	}{{"command", p.Command}, {"args", p.Args}, {"env", p.Env}} {
		for i, v := range l.list {
			total += len(v)
			if strings.IndexByte(v, 0) >= 0 {
				errs.add(fmt.Sprintf("%s%s[%d]", t, l.key, i), "contains a NUL byte, which no argument or variable of a process can hold")
			}
		}
	}
	for i, e := range p.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			errs.add(fmt.Sprintf("%senv[%d]", t, i), "%q: expected NAME=VALUE, like \"LANG=C.UTF-8\"", e)
		}
	}
	if total += len(p.WorkingDir); total > MaxProcess {
		errs.add("process", "%d bytes of command, args, env and workingDir; expected at most %d KiB", total, MaxProcess>>10)
	}
	if p.WorkingDir != "" {
		errs.noLineBreak(t+"workingDir", p.WorkingDir)
		if !strings.HasPrefix(p.WorkingDir, "/") {
			errs.add(t+"workingDir", "%q is relative; expected an absolute path inside the image, like /srv", p.WorkingDir)
		}
	}
}
