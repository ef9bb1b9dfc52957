package hostprep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/cloudinit"
	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/trust"
)

// SeedMode is the cloud-init seed's mode: user-data can hold secrets, so
// only root and the VM group (the hypervisor) may read it.
const SeedMode = 0o640

// SeedUp writes the cloud-init seed of the runner r into the VM directory
// (state.SeedFile), for the hypervisor to attach read-only. The runner
// holds only the seed's hash (see generate.CloudInit): the content is
// composed again from the spec and its files, which must still give that
// hash, so a changed spec needs a rebuild (microvm update) rather than
// starting a runner with content it was not built for. The seed is
// written in the state directory's staging area, which only root can
// enter, and renamed into place: nothing the VM user made in its VM
// directory is opened or followed.
func (p *Prep) SeedUp(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	b, ok, err := generate.ReadBuild(r.Dir)
	if err != nil || !ok || b.CloudInit == nil {
		return err
	}
	seed, err := p.composeSeed(vm, b)
	if err != nil {
		return err
	}
	return p.writeSeed(vm, vmDir, seed)
}

// SeedDown removes the seed after the VM stopped, so that its secrets do
// not outlive it; the next start writes it again. Removing a name in the
// VM directory follows nothing, whoever made the entry.
func (p *Prep) SeedDown(ctx context.Context, vm, vmDir string, r *runner.Runner) error {
	b, ok, err := generate.ReadBuild(r.Dir)
	if err != nil || !ok || b.CloudInit == nil {
		return err
	}
	if err := os.Remove(filepath.Join(vmDir, state.SeedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// builtSpec reads the spec the runner b describes was built from, which
// the runner package does not hold (cloud-init content and a [process]
// env can be secret), as root: only if the VM user cannot change or
// replace it.
func (p *Prep) builtSpec(b generate.Build) (*spec.Spec, error) {
	if err := p.checkReadable("the spec", b.Spec); err != nil {
		return nil, err
	}
	s, err := spec.Parse(b.Spec)
	if err != nil {
		return nil, fmt.Errorf("the spec the runner was built from: %w", err)
	}
	s.ResolvePaths(filepath.Dir(b.Spec))
	return s, nil
}

// checkReadable refuses a file root would read and the VM user could
// change or replace.
func (p *Prep) checkReadable(what, path string) error {
	vmUser := p.ID.VMUser()
	if vmUser == nil {
		return nil
	}
	if _, err := trust.CheckFile(path, *vmUser); err != nil {
		return fmt.Errorf("not reading %s as root: %w", what, err)
	}
	return nil
}

// rebuildHint says how to start with what the spec says now.
func rebuildHint(vm string) string {
	return fmt.Sprintf("rebuild the runner (microvm update %s) to start with what the spec says now", vm)
}

// composeSeed builds the seed from the spec the runner was built from,
// reading only files the VM user cannot change or replace: root reads
// them, and the seed is readable by the VM user.
func (p *Prep) composeSeed(vm string, b generate.Build) (*cloudinit.Seed, error) {
	s, err := p.builtSpec(b)
	if err != nil {
		return nil, err
	}
	if s.CloudInit == nil {
		return nil, fmt.Errorf("spec %s has no [cloudInit] any more, but the runner attaches a seed; %s", b.Spec, rebuildHint(vm))
	}
	seed, err := generate.Seed(s, func(option, path string) ([]byte, error) {
		if err := p.checkReadable(option+" "+path, path); err != nil {
			return nil, err
		}
		return generate.ReadSeedFile(option, path)
	})
	if err != nil {
		return nil, fmt.Errorf("spec %s: %w", b.Spec, err)
	}
	if got := seed.SHA256(); got != b.CloudInit.SHA256 {
		return nil, fmt.Errorf("the cloud-init content of spec %s changed since the runner was built (seed %.12s, now %.12s); %s",
			b.Spec, b.CloudInit.SHA256, got, rebuildHint(vm))
	}
	return seed, nil
}

// writeSeed writes seed into vmDir as state.SeedFile, root:GROUP
// SeedMode, through a staging directory that only root can enter.
func (p *Prep) writeSeed(vm, vmDir string, seed *cloudinit.Seed) error {
	dir := vmDir
	if u := p.ID.VMUser(); u != nil {
		var err error
		if dir, err = trust.Resolve(vmDir, *u, false); err != nil {
			return err
		}
	}
	tmp := filepath.Join(filepath.Dir(dir), state.TmpDir)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(tmp, state.StagingPrefix(vm)+"cidata-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	f, err := os.OpenFile(filepath.Join(stage, state.SeedFile), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := seed.WriteISO(f, stage); err != nil {
		return err
	}
	if p.ID.Switch {
		if err := f.Chown(-1, p.ID.GID); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if err := f.Chmod(SeedMode); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, state.SeedFile)); err != nil {
		return fmt.Errorf("placing the seed: %w", err)
	}
	return nil
}
