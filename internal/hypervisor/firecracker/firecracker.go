// Package firecracker generates firecracker command lines and their JSON
// config file, following microvm.nix's lib/runners/firecracker.nix
// (reference §4.4) minus the store disk.
package firecracker

import (
	"fmt"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// ConfigFile is the config file's path inside the runner package.
const ConfigFile = "share/microvm/firecracker.json"

// Generator generates firecracker command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "firecracker" }

// DefaultBinary is the executable's name on PATH.
func (Generator) DefaultBinary(string) string { return "firecracker" }

// Caps is firecracker's column of the support matrix (reference §4.1).
// Volumes are raw images only: no Qcow2, and a base needs convert.
// Releases: 1.0 has every config key written here (machine-config smt,
// drives io_engine); 1.16 is the newest checked (firecracker 81b38b9d).
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		ControlSocket:    true,
		SocketRequired:   true,
		GracefulShutdown: true,
		InterfaceTypes:   []string{"tap"},
		Vsock:            true,
		Oldest:           hypervisor.V(1, 0),
		Newest:           hypervisor.V(1, 16),
		// The cloud-init seed is a drive with is_read_only (raw images
		// only, which the seed is).
		CloudInit: true,
	}
}

// Command returns the firecracker command line for s on a host with facts
// f, with the config file it reads.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := check(s, f); err != nil {
		return nil, fmt.Errorf("firecracker: %w", err)
	}
	if err := hypervisor.CheckRelease(g.Name(), f, g.Caps()); err != nil {
		return nil, err
	}
	conf, err := config(s, f)
	if err != nil {
		return nil, fmt.Errorf("firecracker: %w", err)
	}
	socket := s.ControlSocket()
	bin := hypervisor.Binary(g, f)
	cmd := &hypervisor.Command{
		Argv: append([]string{bin,
			"--config-file", hypervisor.RunnerPath(ConfigFile),
			"--api-sock", socket,
		}, s.Firecracker.ExtraArgs...),
		// firecracker refuses to bind a socket that exists, as a crashed
		// run leaves it (microvm.nix moves it to SOCKET.old); the same
		// holds for the vsock's socket.
		RemoveBeforeStart: []string{socket},
		Files:             []hypervisor.File{{Path: ConfigFile, Content: conf}},
	}
	if s.Vsock.CID != 0 {
		cmd.RemoveBeforeStart = append(cmd.RemoveBeforeStart, vsockSocket(s))
	}
	if len(hypervisor.Disks(s)) > 0 && !f.IOUring {
		cmd.Notes = append(cmd.Notes, "the host offers no io_uring (firecracker's Async block engine needs Linux 5.10.51 or later, with io_uring not disabled): volumes use the slower Sync engine")
	}
	if f.Arch == "x86_64" {
		// docs/api_requests/actions.md: SendCtrlAltDel exists on x86
		// only (an emulated i8042 keyboard); elsewhere the host stops the
		// VM with a signal.
		cmd.Shutdown, cmd.ShutdownSocket = hypervisor.ShutdownFirecracker, socket
	}
	return cmd, nil
}

func check(s *spec.Spec, f hypervisor.Facts) error {
	switch {
	case f.Arch != "x86_64" && f.Arch != "aarch64":
		return fmt.Errorf("architecture %q: %w", f.Arch, hypervisor.ErrUnsupported)
	case s.ControlSocket() == "":
		return fmt.Errorf("running without the API socket (socket = \"\"): %w", hypervisor.ErrUnsupported)
	case s.User != "":
		return fmt.Errorf("user %q: %w", s.User, hypervisor.ErrUnsupported)
	case len(s.Shares) > 0:
		return fmt.Errorf("shares: %w", hypervisor.ErrUnsupported)
	case len(s.Devices) > 0:
		return fmt.Errorf("device passthrough: %w", hypervisor.ErrUnsupported)
	case s.Balloon:
		return fmt.Errorf("balloon: %w", hypervisor.ErrUnsupported)
	case s.HotplugMem != 0 || (s.HotpluggedMem != nil && *s.HotpluggedMem != 0):
		return fmt.Errorf("hotplugMem: %w", hypervisor.ErrUnsupported)
	case len(s.ForwardPorts) > 0:
		return fmt.Errorf("forwardPorts: %w", hypervisor.ErrUnsupported)
	case len(hypervisor.Disks(s)) > 26:
		return fmt.Errorf("%d disks: at most 26 (vda to vdz)", len(hypervisor.Disks(s)))
	}
	for i, v := range s.Volumes {
		if v.Format != spec.FormatRaw {
			// Firecracker reads raw images only (docs/api_requests/
			// block-*.md: path_on_host is a raw file or block device).
			return fmt.Errorf("volumes[%d]: format %q (only raw; a base needs convert = true): %w", i, v.Format, hypervisor.ErrUnsupported)
		}
	}
	for _, i := range s.Interfaces {
		if i.Type != "tap" {
			return fmt.Errorf("interface %q: type %q (only tap): %w", i.ID, i.Type, hypervisor.ErrUnsupported)
		}
	}
	// The config file is written once, but the runner package's final
	// path is only known at run time: it cannot name files inside it.
	paths := []string{s.Kernel, hypervisor.Initrd(s)}
	for _, v := range s.Volumes {
		paths = append(paths, v.Image)
	}
	for _, p := range paths {
		if strings.Contains(p, hypervisor.RunnerFile) {
			return fmt.Errorf("%q is inside the runner package, which the config file cannot name; use a path outside it: %w",
				strings.ReplaceAll(p, hypervisor.RunnerFile, "$RUNNER/"), hypervisor.ErrUnsupported)
		}
	}
	return nil
}
