// Package generate turns a VM spec into a runner package: the hypervisor
// generator's command line rendered into bin/microvm-run and friends, and
// the share/microvm files of both host conventions. It is pure: it reads
// only the input files it hashes for the runner's version identity, the
// headers of volume bases and, with hostModules, whether the host has
// the kernel's modules.
package generate

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/spec"
)

// Options are what a build needs besides the spec.
type Options struct {
	SpecPath  string // absolute path of the spec file
	Microvm   string // absolute path of the microvm binary the scripts call
	Generator hypervisor.Generator
	Facts     hypervisor.Facts
	// Previous inputs of an earlier build of the same VM: unchanged files
	// (same size and mtime) are not hashed again.
	Previous []Input
	// Image is what the spec's image resolved to (package source reads
	// it, as that may need the network); nil without an image.
	Image *Image
	// ModulesRoot is where hostModules finds the kernel's modules;
	// DefaultModulesRoot when empty.
	ModulesRoot string
}

// Runner builds the runner package for s, whose defaults must be applied
// and paths resolved (spec.Parse does both). Cancelling ctx stops the
// hashing of kernel and initrd.
func Runner(ctx context.Context, s *spec.Spec, o Options) (*runner.Package, error) {
	g := o.Generator
	if err := hypervisor.Check(s, g.Name(), g.Caps()); err != nil {
		return nil, err
	}
	if err := checkImage(s, o.Image); err != nil {
		return nil, err
	}
	cmd, err := g.Command(s, o.Facts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.Name(), err)
	}
	inputs, err := digestInputs(ctx, s.Inputs(filepath.Dir(o.SpecPath)), o.Previous)
	if err != nil {
		return nil, err
	}
	if err := checkBases(s); err != nil {
		return nil, err
	}
	release := ""
	if s.HostModules {
		if release, err = modulesRelease(s.Kernel, cmp.Or(o.ModulesRoot, DefaultModulesRoot)); err != nil {
			return nil, err
		}
	}
	seed, err := Seed(s, ReadSeedFile)
	if err != nil {
		return nil, err
	}
	id, err := identity(s, g.Name(), o.Facts, o.Microvm, inputs, seed, o.Image)
	if err != nil {
		return nil, err
	}

	p := &runner.Package{Runner: runner.Runner{
		Meta: &runner.Meta{
			Hypervisor:           g.Name(),
			CanShutdown:          cmd.Shutdown != "",
			SupportsNotifySocket: cmd.SupportsNotifySocket,
			TapMultiQueue:        cmd.TapMultiQueue,
		},
		TapFlags: runner.TapFlags{VnetHdr: true, MultiQueue: cmd.TapMultiQueue},
		System:   SystemName(s.Name, id),
	}}
	addInterfaces(p, s)
	caps := g.Caps()
	build, err := json.MarshalIndent(Build{
		Spec: o.SpecPath, Microvm: o.Microvm, Facts: o.Facts, Inputs: inputs, Identity: id,
		Hypervisor: g.Name(),
		Binary:     cmd.Argv[0],
		Requires:   hypervisor.Versions{Min: caps.Oldest}.Narrow(cmd.Requires),
		Newest:     caps.Newest,
		Notes:      cmd.Notes,
		CloudInit:  cloudInitRecord(s, seed),
		Image:      o.Image,
		Opens:      opens(s, filepath.Dir(o.SpecPath), cmp.Or(o.ModulesRoot, DefaultModulesRoot), release),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	p.Files = append(p.Files, runner.File{Name: BuildFile, Content: append(build, '\n')})
	for _, f := range cmd.Files {
		name, ok := cutShareDir(f.Path)
		if !ok {
			return nil, fmt.Errorf("%s: file %q must be in share/microvm", g.Name(), f.Path)
		}
		p.Files = append(p.Files, runner.File{Name: name, Content: f.Content})
	}
	if err := addScripts(p, s, cmd, o.Microvm, release); err != nil {
		return nil, err
	}
	return p, nil
}

// addInterfaces fills the share/microvm lists the host prepares from.
func addInterfaces(p *runner.Package, s *spec.Spec) {
	for _, i := range s.Interfaces {
		switch i.Type {
		case "tap":
			p.Taps = append(p.Taps, i.ID)
			if i.Network != "" {
				p.TapNetworks = append(p.TapNetworks, runner.TapNetwork{ID: i.ID, Network: i.Network, MAC: strings.ToLower(i.MAC)})
			}
		case "macvtap":
			p.Macvtaps = append(p.Macvtaps, runner.Macvtap{ID: i.ID, MAC: i.MAC, Link: i.Macvtap.Link, Mode: i.Macvtap.Mode})
		}
	}
	for _, d := range s.Devices {
		switch d.Bus {
		case "pci":
			p.PCIDevices = append(p.PCIDevices, d.Path)
		case "usb":
			p.USBDevices = append(p.USBDevices, d.Path)
		}
	}
	for _, sh := range s.Shares {
		if sh.Proto == "virtiofs" {
			p.Shares = append(p.Shares, runner.Share{Tag: sh.Tag, Source: sh.Source, Socket: sh.Socket})
		}
	}
}

func cutShareDir(rel string) (string, bool) {
	dir, name := filepath.Split(rel)
	return name, filepath.Clean(dir) == runner.ShareDir && name != ""
}
