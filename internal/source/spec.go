package source

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/hostfacts"
	"github.com/microvm-host/microvm/internal/hypervisor/all"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/spec"
)

// loadSpec parses the spec file for the VM name. VMs are named after their
// spec file, like microvm.nix names them after the nixosConfiguration.
func loadSpec(path, name string) (*spec.Spec, error) {
	s, err := spec.Parse(path)
	if err != nil {
		return nil, err
	}
	if name != "" && s.Name != name {
		return nil, fmt.Errorf("spec %s describes VM %q (VMs are named after their spec file), not %q", path, s.Name, name)
	}
	s.ResolvePaths(filepath.Dir(path))
	if err := hostKernel(s); err != nil {
		return nil, fmt.Errorf("spec %s: %w", path, err)
	}
	return s, nil
}

// BuildSpec writes the runner package for the spec file at path to out.
func (b *Builder) BuildSpec(ctx context.Context, path, out string) error {
	_, err := b.buildSpec(ctx, path, "", out)
	return err
}

func (b *Builder) buildSpec(ctx context.Context, path, name, out string) (string, error) {
	s, err := loadSpec(path, name)
	if err != nil {
		return "", err
	}
	gen, err := all.Lookup(s.Hypervisor)
	if err != nil {
		return "", err
	}
	facts, err := hostfacts.Probe(ctx, gen, b.KVM, b.CacheDir)
	if err != nil {
		return "", err
	}
	img, err := b.resolveImage(ctx, s)
	if err != nil {
		return "", fmt.Errorf("spec %s: %w", path, err)
	}
	pkg, err := generate.Runner(ctx, s, generate.Options{SpecPath: path, Microvm: b.Microvm, Generator: gen, Facts: facts, Image: img})
	if err != nil {
		return "", fmt.Errorf("spec %s: %w", path, err)
	}
	if err := runner.Write(out, pkg); err != nil {
		return "", err
	}
	return out, nil
}

// expectSpec is the system a build of the spec would name now. The host
// facts are taken from the current runner's build record rather than
// probed again, so list stays cheap.
func (b *Builder) expectSpec(ctx context.Context, path, name, current string) (string, error) {
	rec, ok, err := generate.ReadBuild(current)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("current runner has no build record")
	}
	s, err := loadSpec(path, name)
	if err != nil {
		return "", err
	}
	gen, err := all.Lookup(s.Hypervisor)
	if err != nil {
		return "", err
	}
	return generate.ExpectedSystem(ctx, s, gen.Name(), rec.Facts, b.Microvm, path, rec.Inputs, rec.Image)
}
