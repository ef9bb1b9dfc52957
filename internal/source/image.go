package source

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/oci"
	"github.com/microvm-host/microvm/internal/oci/imageref"
	"github.com/microvm-host/microvm/internal/spec"
)

// EnvInit names the init of image VMs (cmd/microvm-init) when it is not
// next to the microvm binary.
const EnvInit = "MICROVM_INIT"

// InitName is the init's file name next to the microvm binary.
const InitName = "microvm-init"

// findInit is where the init of image VMs is: $MICROVM_INIT, or
// microvm-init next to the microvm binary.
func findInit(microvm string) string {
	if p := os.Getenv(EnvInit); p != "" {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	return filepath.Join(filepath.Dir(microvm), InitName)
}

// hostKernel fills an image VM's kernel with the host's newest (the one
// with modules, which the initramfs takes its drivers from).
func hostKernel(s *spec.Spec) error {
	if s.Image == "" || s.Kernel != "" {
		return nil
	}
	k, _, err := guest.DefaultKernel()
	if err != nil {
		return fmt.Errorf("image VMs boot the host's kernel unless kernel is set: %w", err)
	}
	s.Kernel = k
	return nil
}

// resolveImage resolves an image VM's image and checks what its
// initramfs is built from, so that `microvm build` fails rather than the
// first start: the image must say what to run, the init must be a static
// binary, the kernel must have the modules the init loads.
func (b *Builder) resolveImage(ctx context.Context, s *spec.Spec) (*generate.Image, error) {
	if s.Image == "" {
		return nil, nil
	}
	ref, err := imageref.Parse(s.Image)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	res, err := oci.Resolve(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", s.Image, err)
	}
	img := &generate.Image{Ref: ref.String(), Config: res.Config, Manifest: res.Manifest, Init: b.Init, Args: res.Process.Args}
	if p := s.Process; p != nil {
		img.Entrypoint, img.Cmd, img.ProcessSHA256 = res.Entrypoint, res.Cmd, generate.ProcessHash(p)
		// Checked now as each start makes it (hostprep.ImageUp).
		proc := img.VMProcess(p)
		if err := proc.Check(); err != nil {
			return nil, fmt.Errorf("image %q with [process]: %w; expected command, or the image's entrypoint followed by args, to name a program", s.Image, err)
		}
	}
	if img.Init == "" {
		img.Init = findInit(b.Microvm)
	}
	f, err := os.Open(img.Init)
	if err != nil {
		return nil, fmt.Errorf("image VMs need %s, the init of their initramfs: %w (build it with `make build`, or set %s)", InitName, err, EnvInit)
	}
	defer f.Close()
	if _, err := guest.ReadStaticInit(f); err != nil {
		return nil, err
	}
	img.Modules = modulesOf(s.Kernel)
	if img.Modules != "" {
		if err := guest.CheckImageModules(img.Modules); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", s.Kernel, err)
		}
	}
	return img, nil
}

// modulesOf finds the modules of a kernel named as distributions install
// it, /boot/vmlinuz-VERSION with /lib/modules/VERSION; "" otherwise (a
// kernel built with what image VMs need built in).
func modulesOf(kernel string) string {
	v, ok := strings.CutPrefix(filepath.Base(kernel), "vmlinuz-")
	if !ok {
		return ""
	}
	dir := filepath.Join("/lib/modules", v)
	if _, err := os.Stat(filepath.Join(dir, "modules.dep")); err != nil {
		return ""
	}
	return dir
}
