package generate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/spec"
)

// Image is what build.json records about an image VM's image: what the
// build resolved the reference to, and what the host builds the
// initramfs from. The host flattens exactly this image at start (package
// oci), whatever the reference names by then.
type Image struct {
	Ref string `json:"ref"` // the spec's image, paths made absolute
	// Config is the image's config digest: its root disk's cache key.
	Config string `json:"config"`
	// Manifest pins a registry image to its manifest digest.
	Manifest string `json:"manifest,omitempty"`
	// Init is the microvm-init binary, the initramfs's /init.
	Init string `json:"init"`
	// Modules is the kernel's modules directory (/lib/modules/VERSION)
	// whose virtio, ext4 and overlay modules go into the initramfs; ""
	// for a kernel with all of them built in.
	Modules string `json:"modules,omitempty"`
	// Args is the process the image runs, for `microvm build` to show.
	Args []string `json:"args,omitempty"`
	// Entrypoint and Cmd are the image's, and ProcessSHA256 the hash of
	// the spec's [process] (ProcessHash), for a spec that has one: the
	// host makes the VM's process from them and the spec at each start
	// (the spec's env can hold secrets, and the runner package is
	// readable by everyone), and refuses a spec whose [process] no
	// longer has the hash.
	Entrypoint    []string `json:"entrypoint,omitempty"`
	Cmd           []string `json:"cmd,omitempty"`
	ProcessSHA256 string   `json:"processSHA256,omitempty"`
}

// checkImage makes sure an image spec comes with its resolution.
func checkImage(s *spec.Spec, img *Image) error {
	switch {
	case s.Image == "" && img != nil:
		return errors.New("an image was resolved for a spec without one")
	case s.Image == "":
		return nil
	case img == nil:
		return fmt.Errorf("image %q: not resolved before generating", s.Image)
	case s.Kernel == "":
		return errors.New("kernel: not set, and the host's kernel was not found (install linux-image-cloud-amd64, or set kernel)")
	}
	return nil
}

// hashImage adds the image to a runner's identity: a new image behind the
// same reference (a moved tag, a rebuilt archive), another init or other
// modules make another runner. Without an image nothing is added, so
// runners without one keep their identity.
func hashImage(h io.Writer, img *Image) error {
	if img == nil {
		return nil
	}
	c := *img
	// These follow from Config and the spec.
	c.Args, c.Entrypoint, c.Cmd, c.ProcessSHA256 = nil, nil, nil, ""
	io.WriteString(h, "image\x00")
	return json.NewEncoder(h).Encode(c)
}

// ProcessHash is the hash of a spec's [process] table that build.json
// records (Image.ProcessSHA256).
func ProcessHash(p *spec.Process) string {
	b, _ := json.Marshal(p) // strings only: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// VMProcess is what the guest's init runs instead of the image's
// process (ociinit.ProcessFile): the image's entrypoint and cmd as the
// spec's [process] changes them, its env entries and working directory.
func (img *Image) VMProcess(p *spec.Process) ociinit.Process {
	return ociinit.Process{Args: ociinit.Argv(img.Entrypoint, img.Cmd, p.Command, p.Args), Env: p.Env, WorkingDir: p.WorkingDir}
}
