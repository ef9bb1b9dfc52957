// Package alioth generates Alioth command lines. It follows microvm.nix's
// lib/runners/alioth.nix (reference §4.8), minus the store disk, and fixes
// that file's bugs where they happen. Flags were checked against Alioth's
// CLI (alioth-cli/src/boot/boot.rs and the device specs it parses, e.g.
// alioth/src/virtio/dev/net/tap.rs; google/alioth on GitHub, checked at
// c78f8bd, v0.12.0+50).
//
// Releases: 0.8.0 is the oldest that takes this command line (the "run"
// alias of "boot" arrived there, as did tap= and --balloon); 0.12.0 is
// the newest checked.
//
// The console is Alioth's default, stdio, which puts stdin in raw mode and
// fails when stdin is no terminal (StdioConsole::new in
// alioth/src/device/console.rs: "requires TTY"), as under microvm@.service
// (stdin /dev/null). "--console log,path=FILE" needs no terminal, but it
// only exists after 0.12.0 (unreleased) and sends the console to a file
// instead of the journal and the host's console log. So the command keeps
// stdio and sets NeedsTerminal: bin/microvm-run gives alioth a pty of its
// own when stdin is not a terminal and copies its output to stdout, and
// execs it directly on a terminal (microvm run) or on the monitor's pty
// (microvm run --monitor).
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

// DefaultBinary is the executable's name on PATH.
func (Generator) DefaultBinary(string) string { return "alioth" }

// Caps is Alioth's column of the support matrix (reference §4.1): no
// control socket, so no graceful shutdown and no balloon control. Unlike
// §4.1 it has macvtaps (TapNetSpec's tap=/dev/tapN,
// alioth/src/virtio/dev/net/tap.rs) and a balloon (--balloon, BalloonSpec
// in alioth/src/virtio/dev/balloon.rs) that gives free pages back to the
// host by itself.
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		InterfaceTypes: []string{"tap", "macvtap"},
		ShareProtos:    []string{"virtiofs"},
		Vsock:          true,
		Balloon:        true,
		Oldest:         hypervisor.V(0, 8),
		Newest:         hypervisor.V(0, 12),
		// The cloud-init seed is a --blk with readonly=true.
		CloudInit: true,
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
	bin := hypervisor.Binary(g, f)
	argv := []string{bin,
		"run", // an alias of "boot" (boot.rs, BootArgs)
		// memfd backing lets vhost-user virtiofsd map guest memory
		// (MemBackend::Memfd, alioth/src/mem/mem.rs).
		"--memory", "size=" + strconv.Itoa(s.Mem) + "M,backend=memfd",
		// Deprecated for --cpu count=N, which only Alioth 0.10.0 and
		// later have; --num-cpu still works (alioth only prints "Please
		// update the cmd line", alioth-cli/src/boot/boot.rs) from 0.8.0
		// to the newest checked.
		"--num-cpu", strconv.Itoa(s.Vcpu),
		"-k", s.Kernel,
	}
	if initrd := hypervisor.Initrd(s); initrd != "" {
		argv = append(argv, "-i", initrd)
	}
	// Fixed: microvm.nix always used ttyS0, but Alioth's serial console
	// is a PL011 on aarch64 (README, "Other Emulated Devices").
	console := "console=ttyS0"
	if f.Arch == "aarch64" {
		console = "console=ttyAMA0"
	}
	argv = append(argv,
		"-c", strings.Join(append([]string{console, cmdlineSuffix}, hypervisor.KernelParams(s)...), " "),
		"--entropy")
	for _, v := range hypervisor.Disks(s) {
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
		dev := "if_name=" + ifc.ID
		if ifc.Type == "macvtap" {
			// A macvtap is opened through its character device
			// /dev/tapN ("Required for MacVTap", TapNetSpec.tap); N is
			// its ifindex, which bin/microvm-run looks up. An fd would
			// not do: alioth opens the path itself, and a second queue
			// on an fd nobody reads would swallow packets.
			dev = "tap=" + hypervisor.MacvtapDevice(ifc.ID)
		}
		argv = append(argv, "--net", dev+",mac="+ifc.MAC+",queue_pairs=1,mtu=1500")
	}
	if s.Vsock.CID != 0 {
		argv = append(argv, "--vsock", "vhost,cid="+strconv.Itoa(s.Vsock.CID))
	}
	if s.Balloon {
		// Deflate-on-OOM is always offered (BalloonFeature::all()); free
		// page reporting must be asked for. Without a control socket the
		// balloon cannot be resized, but reporting returns the guest's
		// free memory to the host.
		argv = append(argv, "--balloon", "free_page_reporting=true")
	}
	argv = append(argv, s.Alioth.ExtraArgs...)
	// No Shutdown: Alioth has no control socket (microvm.nix: canShutdown
	// = false), so the host's SIGTERM ends it.
	return &hypervisor.Command{Argv: argv, NeedsTerminal: true}, nil
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
	if err := hypervisor.CheckRelease(g.Name(), f, g.Caps()); err != nil {
		errs = append(errs, err)
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
