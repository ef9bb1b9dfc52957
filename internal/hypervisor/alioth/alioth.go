// Package alioth generates Alioth command lines. It follows microvm.nix's
// lib/runners/alioth.nix (reference §4.8), minus the store disk, and fixes
// that file's bugs where they happen. Flags were checked against Alioth's
// CLI (alioth-cli/src/boot/boot.rs and the device specs it parses, e.g.
// alioth/src/virtio/dev/net/tap.rs; google/alioth on GitHub).
package alioth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Generator generates alioth command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "alioth" }

// Caps is Alioth's column of the support matrix (reference §4.1): no
// control socket, so no graceful shutdown and no balloon control.
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		InterfaceTypes: []string{"tap"},
		ShareProtos:    []string{"virtiofs"},
		Vsock:          true,
	}
}

// cmdlineSuffix follows the console in the kernel command line, as in
// microvm.nix.
const cmdlineSuffix = "reboot=k panic=1"

// Command returns the alioth command line for s on a host with facts f.
//
// Taps get queue_pairs=1, fixing microvm.nix's queue_pairs=VCPU on taps it
// did not create multi_queue: Alioth attaches with IFF_MULTI_QUEUE when it
// wants more than one pair, which such a tap refuses. One pair keeps every
// table true (tapMultiQueue is no for alioth in reference §4.1 and §9.4)
// and works whatever flags the tap has, since Alioth retries a single
// queue attach with IFF_MULTI_QUEUE (setup_socket in net/tap.rs).
// Multi-queue would buy throughput for an experimental hypervisor at the
// price of a second tap-creation mode to keep consistent.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := g.check(s, f); err != nil {
		return nil, err
	}
	bin := f.Binary
	if bin == "" {
		bin = "alioth"
	}
	argv := []string{bin,
		"run", // an alias of "boot" (boot.rs, BootArgs)
		// memfd backing lets vhost-user virtiofsd map guest memory
		// (MemBackend::Memfd, alioth/src/mem/mem.rs).
		"--memory", "size=" + strconv.Itoa(s.Mem) + "M,backend=memfd",
		// Deprecated for --cpu count=N, which only Alioth from December
		// 2025 has; --num-cpu works in every release.
		"--num-cpu", strconv.Itoa(s.Vcpu),
		"-k", s.Kernel,
	}
	if s.Initrd != "" {
		argv = append(argv, "-i", s.Initrd)
	}
	// Fixed: microvm.nix always used ttyS0, but Alioth's serial console
	// is a PL011 on aarch64 (README, "Other Emulated Devices").
	console := "console=ttyS0"
	if f.Arch == "aarch64" {
		console = "console=ttyAMA0"
	}
	argv = append(argv,
		"-c", strings.Join(append([]string{console, cmdlineSuffix}, s.KernelParams...), " "),
		"--entropy")
	for _, v := range s.Volumes {
		// Fixed: microvm.nix wrote readOnly=, a key BlkFileSpec does not
		// have (alioth/src/virtio/dev/blk.rs), so read-only volumes were
		// not. Alioth has no O_DIRECT option; direct only tunes the host
		// page cache, so it is dropped as in microvm.nix.
		argv = append(argv, "--blk", "path="+v.Image+",readonly="+strconv.FormatBool(v.ReadOnly))
	}
	for _, sh := range s.Shares {
		argv = append(argv, "--fs", "vu,socket="+sh.Socket+",tag="+sh.Tag)
	}
	for _, ifc := range s.Interfaces {
		// mac and mtu are required keys of TapNetSpec.
		argv = append(argv, "--net", "if_name="+ifc.ID+",mac="+ifc.MAC+",queue_pairs=1,mtu=1500")
	}
	if s.Vsock.CID != 0 {
		argv = append(argv, "--vsock", "vhost,cid="+strconv.Itoa(s.Vsock.CID))
	}
	argv = append(argv, s.Alioth.ExtraArgs...)
	// No Shutdown: Alioth has no control socket (microvm.nix: canShutdown
	// = false), so the host's SIGTERM ends it.
	return &hypervisor.Command{Argv: argv}, nil
}

// check refuses what Alioth cannot do: the generic Caps check, disk
// serials and values its option syntax cannot carry.
func (g Generator) check(s *spec.Spec, f hypervisor.Facts) error {
	errs := []error{hypervisor.Check(s, g.Name(), g.Caps())}
	refuse := func(path, format string, args ...any) {
		errs = append(errs, &spec.Error{Path: path, Err: fmt.Errorf("alioth "+format+": %w",
			append(args, hypervisor.ErrUnsupported)...)})
	}
	if f.Arch != "x86_64" && f.Arch != "aarch64" {
		refuse("", "on architecture %q", f.Arch)
	}
	// Options are comma-separated key=value lists (serde-aco).
	syntax := func(path, value string) {
		if i := strings.IndexAny(value, ",="); i >= 0 {
			refuse(path, "cannot take %q: its option syntax splits at %q", value, value[i:i+1])
		}
	}
	for i, v := range s.Volumes {
		if v.Serial != "" {
			// microvm.nix only warned; the guest would not find the disk
			// by the serial it was promised.
			refuse(fmt.Sprintf("volumes[%d].serial", i), "cannot give a disk a serial")
		}
		syntax(fmt.Sprintf("volumes[%d].image", i), v.Image)
	}
	for i, sh := range s.Shares {
		syntax(fmt.Sprintf("shares[%d].socket", i), sh.Socket)
		syntax(fmt.Sprintf("shares[%d].tag", i), sh.Tag)
	}
	for i, ifc := range s.Interfaces {
		syntax(fmt.Sprintf("interfaces[%d].id", i), ifc.ID)
	}
	return errors.Join(errs...)
}
