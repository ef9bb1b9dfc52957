package hostprep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/oci"
	"github.com/microvm-host/microvm/internal/oci/imageref"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/trust"
)

// ImageUp gives an image VM its root disk and initramfs: both come from
// the state directory's image cache (state.ImagesDir), built on the first
// start of the image — the image read from where the runner's build
// record says, pinned to the digest it recorded, and flattened — and
// shared by every VM of the image. They are hard-linked into the VM
// directory through the staging area, replacing whatever the VM user put
// under those names, never following it.
//
// Root reads the image's archive or layout and the init binary into files
// the VM user can read, so it reads them only if the VM user cannot
// change or replace them (trust.CheckFile, trust.CheckTree); what the
// image holds is not trusted at all (see package oci).
func (p *Prep) ImageUp(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	b, ok, err := generate.ReadBuild(r.Dir)
	if err != nil || !ok || b.Image == nil {
		return err
	}
	img := b.Image
	ref, err := imageref.Parse(img.Ref)
	if err != nil {
		return err
	}
	dir, init := vmDir, img.Init
	if u := p.ID.VMUser(); u != nil {
		if dir, err = trust.Resolve(vmDir, *u, false); err != nil {
			return err
		}
		if init, err = trust.CheckFile(init, *u); err != nil {
			return fmt.Errorf("not reading the init of image VMs as root: %w", err)
		}
		switch ref.Transport {
		case imageref.DockerArchive:
			ref.Path, err = trust.CheckFile(ref.Path, *u)
		case imageref.OCILayout:
			if ref.Path, err = trust.Resolve(ref.Path, *u, false); err == nil {
				err = trust.CheckTree(ref.Path, *u)
			}
		}
		if err != nil {
			return fmt.Errorf("not reading image %s as root: %w", img.Ref, err)
		}
	}
	// The spec's [process], checked before anything is flattened or
	// linked: a refusal leaves nothing behind.
	var proc []byte
	if img.ProcessSHA256 != "" {
		if proc, err = p.vmProcess(vm, b); err != nil {
			return err
		}
	}
	c := p.imageCache(vm, filepath.Dir(dir))
	disk, err := c.RootDisk(ctx, ref, img.Config, img.Manifest)
	if err != nil {
		return err
	}
	initrd, err := c.Initrd(ctx, init, img.Modules)
	if err != nil {
		return err
	}
	if err := c.Link(disk, dir, state.ImageRootFile); err != nil {
		return err
	}
	if proc == nil {
		return c.Link(initrd, dir, state.ImageInitrdFile)
	}
	// The spec changes the image's process: this VM gets its own copy
	// of the initramfs, with the process the init runs instead.
	return c.PlaceInitrdWith(initrd, dir, state.ImageInitrdFile, map[string][]byte{ociinit.ProcessFile: proc})
}

// vmProcess makes the process file (ociinit.ProcessFile) of a VM whose
// spec has a [process] table, from the spec, which must still have the
// table the runner was built with, and the image's entrypoint and cmd
// that build recorded.
func (p *Prep) vmProcess(vm string, b generate.Build) ([]byte, error) {
	s, err := p.builtSpec(b)
	if err != nil {
		return nil, err
	}
	if s.Process == nil {
		return nil, fmt.Errorf("spec %s has no [process] any more, but the runner was built with one; %s", b.Spec, rebuildHint(vm))
	}
	if got := generate.ProcessHash(s.Process); got != b.Image.ProcessSHA256 {
		return nil, fmt.Errorf("the [process] of spec %s changed since the runner was built (%.12s, now %.12s); %s",
			b.Spec, b.Image.ProcessSHA256, got, rebuildHint(vm))
	}
	proc := b.Image.VMProcess(s.Process)
	if err := proc.Check(); err != nil {
		return nil, fmt.Errorf("spec %s: [process]: %w", b.Spec, err)
	}
	return json.Marshal(proc)
}

// ImageDown removes the VM's links to the image cache after it stopped;
// the next start links them again. Removing a name follows nothing,
// whoever made the entry.
func (p *Prep) ImageDown(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	b, ok, err := generate.ReadBuild(r.Dir)
	if err != nil || !ok || b.Image == nil {
		return err
	}
	var errs []error
	for _, name := range []string{state.ImageRootFile, state.ImageInitrdFile} {
		if err := os.Remove(filepath.Join(vmDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// imageCache is the image cache of the state directory root, which vm's
// staging entries go through.
func (p *Prep) imageCache(vm, root string) *oci.Cache {
	group := -1
	if p.ID.Switch {
		group = p.ID.GID
	}
	return &oci.Cache{
		Dir:     filepath.Join(root, state.ImagesDir),
		Locks:   filepath.Join(root, state.LocksDir),
		Staging: filepath.Join(root, state.TmpDir),
		Prefix:  state.StagingPrefix(vm),
		Group:   group,
		Log:     p.log(),
	}
}
