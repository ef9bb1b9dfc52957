// Package stratovirt generates StratoVirt command lines. It follows
// microvm.nix's lib/runners/stratovirt.nix (reference §4.7), minus the
// store disk, and fixes that file's bugs where they happen. Flags were
// checked against StratoVirt's docs/config_guidebook.md and the option
// parsers in machine_manager/src/config (openeuler-mirror/stratovirt).
//
// The serial console is "-serial stdio", which puts stdin in raw mode and
// fails when stdin is no terminal ("Failed to set terminal to raw mode",
// stratovirt chardev_backend/src/chardev.rs, Chardev::realize), as under
// microvm@.service (stdin /dev/null). microvm.nix wraps stratovirt in
// expect's unbuffer for this. The other chardevs do not fit: a "pty"
// chardev is a pty nobody reads, "file" has no input, and a "socket" one
// leaves the console off the journal and the host's console log. So the
// command keeps stdio and sets NeedsTerminal: bin/microvm-run gives
// stratovirt a pty of its own when stdin is not a terminal and copies its
// output to stdout (the journal), and execs it directly on a terminal
// (microvm run) or on the monitor's pty (microvm run --monitor), where
// stdio works as it is.
//
// Releases: 2.4.0 (what nixpkgs ships) is the oldest checked, 2.5.0 the
// newest (stratovirt d5b32037, v2.5.0+45). Since 2.5.0, virtio-rng-device
// and vhost-vsock-device are built only with the cargo features
// virtio_rng and vhost_vsock, which are off by default (stratovirt
// Cargo.toml, [features] default = []; "Unsupported device" from
// machine/src/lib.rs, create_device_add_matches); a binary does
// not tell which features it has, so from 2.5.0 on the generator leaves
// the rng out and refuses vsock, and runners made for 2.4 record that
// they need a release before 2.5.0.
//
// Graceful shutdown stays off, as in microvm.nix, for a reason found in
// StratoVirt's source: its QMP has no input-send-event (docs/qmp.md lists
// none), its input_event command exists only on the standard machines
// ("for testing only", machine_manager/src/machine.rs) and takes numeric
// key codes, and system_powerdown on the microvm machine just ends the VM
// (MachineLifecycle::powerdown). The host's SIGTERM is no worse.
package stratovirt

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Generator generates stratovirt command lines.
type Generator struct{}

// Name is the hypervisor's name in specs and runner metadata.
func (Generator) Name() string { return "stratovirt" }

// DefaultBinary is the executable's name on PATH.
func (Generator) DefaultBinary(string) string { return "stratovirt" }

// Releases the generator is written for (see the package comment).
var (
	oldest = hypervisor.V(2, 4)
	newest = hypervisor.V(2, 5)
	// featuresSince is the first release whose default build lacks
	// virtio-rng-device and vhost-vsock-device.
	featuresSince = hypervisor.V(2, 5)
)

// Caps is StratoVirt's column of the support matrix (reference §4.1), with
// four corrections from StratoVirt's config_guidebook.md: netdevs are
// only tap (and vhost-user), so no user or bridge interfaces (§2.3);
// usb-host needs a PCI xHCI controller the microvm machine lacks (§2.13),
// so no USB; vhost-vsock-device exists (§2.5), so vsock is supported
// instead of silently dropped (on releases before 2.5.0; see the package
// comment); and virtio-balloon-device exists (§2.7), resized over QMP
// "balloon" (docs/qmp.md), so balloon is supported.
//
// No PCI passthrough, as in microvm.nix ("PCI configuration for
// stratovirt is non-functional" on x86_64): the microvm machine has no
// PCI bus, and microvm.nix's "-device vfio-pci,host=BDF" also lacks the
// id, bus and addr StratoVirt requires (§2.11), so it never worked on
// aarch64 either.
func (Generator) Caps() hypervisor.Caps {
	return hypervisor.Caps{
		ControlSocket:  true,
		MultiQueueTaps: true,
		MacvtapAsFds:   true,
		InterfaceTypes: []string{"tap", "macvtap"},
		ShareProtos:    []string{"virtiofs"},
		Vsock:          true,
		Balloon:        true,
		Oldest:         oldest,
		Newest:         newest,
		// The cloud-init seed is a -drive with readonly=on; it counts
		// against maxDisks.
		CloudInit: true,
	}
}

const (
	// maxQueuePairs is StratoVirt's limit on a netdev's queues
	// (MAX_QUEUE_PAIRS in machine_manager/src/config/network.rs;
	// microvm.nix's min 16 vcpu).
	maxQueuePairs = 16
	// The microvm machine has a fixed number of virtio-mmio slots for
	// disks and tap NICs (MMIO_REPLACEABLE_BLK_NR and
	// MMIO_REPLACEABLE_NET_NR in machine/src/micro_common/mod.rs); more
	// fail at start with "A maximum of 4 block replaceable devices are
	// supported".
	maxDisks = 4
	maxNICs  = 2
	// Guest memory must lie in 128 MiB to 512 GiB (MIN_MEMSIZE and
	// MAX_MEMSIZE in machine_manager/src/config/machine_config.rs).
	minMem = 128
	maxMem = 512 << 10
)

// Command returns the stratovirt command line for s on a host with facts f.
func (g Generator) Command(s *spec.Spec, f hypervisor.Facts) (*hypervisor.Command, error) {
	if err := g.check(s, f); err != nil {
		return nil, err
	}
	socket := s.ControlSocket()
	bin := hypervisor.Binary(g, f)
	// A build with optional devices only before 2.5.0 (package comment).
	allDevices := f.Assume(newest).Compare(featuresSince) < 0
	var requires hypervisor.Versions
	var notes []string
	console := "ttyS0"
	if f.Arch == "aarch64" {
		console = "ttyAMA0" // the microvm machine's PL011
	}
	// Fixed: microvm.nix used the "virt" machine on aarch64, a standard
	// (PCI) machine that refuses the virtio-mmio devices below ("Virtio
	// mmio devices not supported", machine/src/lib.rs); the microvm
	// machine exists on both architectures (machine/src/aarch64/micro.rs).
	machine := "microvm"
	if slices.ContainsFunc(s.Shares, func(sh spec.Share) bool { return sh.Proto == "virtiofs" }) {
		// Fixed: vhost-user-fs needs guest memory a virtiofsd can map;
		// without mem-share=on StratoVirt refuses the device
		// (machine/src/lib.rs, add_virtio_fs).
		machine += ",mem-share=on"
	}
	argv := []string{bin,
		"-name", s.Name,
		"-machine", machine,
		"-m", strconv.Itoa(s.Mem), // MiB without a unit (guidebook §1.3.1)
		"-smp", strconv.Itoa(s.Vcpu),
		"-kernel", s.Kernel,
	}
	if initrd := hypervisor.Initrd(s); initrd != "" {
		argv = append(argv, "-initrd", initrd)
	}
	argv = append(argv,
		"-append", strings.Join(append([]string{"console=" + console + " edd=off reboot=t panic=-1"}, hypervisor.KernelParams(s)...), " "),
		// Needs a terminal: see the package comment and NeedsTerminal.
		"-serial", "stdio")
	if allDevices {
		argv = append(argv,
			"-object", "rng-random,id=rng,filename=/dev/random",
			"-device", "virtio-rng-device,rng=rng,id=rng_dev")
		requires.Below = featuresSince
	} else {
		notes = append(notes, "StratoVirt 2.5.0 and later have virtio-rng-device only when built with the cargo feature virtio_rng, which is off by default: the guest gets no virtio-rng device")
	}
	if socket != "" {
		argv = append(argv, "-qmp", "unix:"+socket+",server,nowait")
	}
	if s.Balloon {
		// id is required (BalloonConfig in virtio/src/device/balloon.rs);
		// guidebook §2.7 for the keys.
		argv = append(argv, "-device", "virtio-balloon-device,id=balloon0,deflate-on-oom="+
			strconv.FormatBool(*s.DeflateOnOOM)+",free-page-reporting=true")
	}
	for i, v := range hypervisor.Disks(s) {
		// Drive letters from a: there is no store disk.
		id := "vd" + string(rune('a'+i))
		argv = append(argv,
			"-drive", "id="+id+",format=raw,if=none"+aio(f)+",file="+v.Image+
				",direct="+onOff(v.Direct)+",readonly="+onOff(v.ReadOnly),
			"-device", "virtio-blk-device,drive="+id+",id=blk_"+id+optional(",serial=", v.Serial))
	}
	for i, sh := range s.Shares {
		id := "fs" + strconv.Itoa(i)
		argv = append(argv,
			"-chardev", "socket,id="+id+",path="+sh.Socket,
			"-device", "vhost-user-fs-device,chardev="+id+",tag="+sh.Tag+",id="+id)
	}
	net, fds, multiQueue := interfaces(s)
	argv = append(argv, net...)
	if s.Vsock.CID != 0 {
		// check refused vsock from 2.5.0 on.
		argv = append(argv, "-device", "vhost-vsock-device,id=vsock0,guest-cid="+strconv.Itoa(s.Vsock.CID))
		requires.Below = featuresSince
	}
	argv = append(argv, s.Stratovirt.ExtraArgs...)

	// No RemoveBeforeStart: StratoVirt removes a stale QMP socket itself
	// (clear_file in machine_manager/src/cmdline.rs).
	cmd := &hypervisor.Command{
		Argv:          argv,
		MacvtapFDs:    fds,
		TapMultiQueue: multiQueue,
		NeedsTerminal: true,
		Requires:      requires,
		Notes:         notes,
	}
	if s.Balloon && socket != "" {
		// QMP balloon sets the guest's target memory, as qemu's does
		// (qmp_balloon in virtio/src/device/balloon.rs), and
		// query-balloon reports it.
		cmd.Balloon, cmd.BalloonSocket = hypervisor.BalloonQMP, socket
	}
	return cmd, nil
}

// aio is the -drive aio option: io_uring where the host has it. Without,
// StratoVirt's default (native with direct=on, else threads; guidebook
// §2.2) works on every kernel.
func aio(f hypervisor.Facts) string {
	if f.IOUring {
		return ",aio=io_uring"
	}
	return ""
}

// interfaces returns the -netdev/-device pairs. With more than one vcpu
// every interface gets min(vcpu, 16) queue pairs, so taps must be created
// multi_queue (StratoVirt checks tun_flags, virtio/src/device/net.rs).
func interfaces(s *spec.Spec) (argv []string, fds []hypervisor.MacvtapFDs, multiQueue bool) {
	multiQueue = s.Vcpu > 1
	queues := 1
	if multiQueue {
		queues = min(s.Vcpu, maxQueuePairs)
	}
	next := 3 // bin/microvm-run's first macvtap fd (reference §5.3)
	for _, ifc := range s.Interfaces {
		netdev := "tap,id=" + ifc.ID
		if ifc.Type == "macvtap" {
			// One fd per queue. Fixed: microvm.nix rendered several as
			// "fd=3 4"; StratoVirt's fd/fds take a colon-separated list
			// (NetDevcfg.tap_fds). microvm.nix allocated vcpu fds even
			// above 16 queues; we open only the queues StratoVirt uses.
			var n []string
			m := hypervisor.MacvtapFDs{ID: ifc.ID}
			for range queues {
				m.FDs = append(m.FDs, next)
				n = append(n, strconv.Itoa(next))
				next++
			}
			fds = append(fds, m)
			key := "fd="
			if queues > 1 {
				key = "fds="
			}
			netdev += "," + key + strings.Join(n, ":")
		} else {
			netdev += ",ifname=" + ifc.ID
		}
		// Fixed: microvm.nix appended a second queues= when multi-queue,
		// which StratoVirt's parser rejects as a repeated argument.
		netdev += ",queues=" + strconv.Itoa(queues)
		argv = append(argv, "-netdev", netdev,
			"-device", "virtio-net-device,id=net_"+ifc.ID+",netdev="+ifc.ID+",mac="+ifc.MAC+",mq="+onOff(multiQueue))
	}
	return argv, fds, multiQueue
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// optional returns key+value, or "" when value is empty.
func optional(key, value string) string {
	if value == "" {
		return ""
	}
	return key + value
}

// check refuses what StratoVirt cannot do: the generic Caps check, PCI
// devices and values its option syntax cannot carry.
func (g Generator) check(s *spec.Spec, f hypervisor.Facts) error {
	errs := []error{hypervisor.Check(s, g.Name(), g.Caps())}
	refuse := func(path, format string, args ...any) {
		errs = append(errs, &spec.Error{Path: path, Err: fmt.Errorf("stratovirt "+format+": %w",
			append(args, hypervisor.ErrUnsupported)...)})
	}
	if f.Arch != "x86_64" && f.Arch != "aarch64" {
		refuse("", "on architecture %q", f.Arch)
	}
	if err := hypervisor.CheckRelease(g.Name(), f, g.Caps()); err != nil {
		errs = append(errs, err)
	}
	if s.Mem < minMem || s.Mem > maxMem {
		refuse("mem", "takes %d MiB to %d MiB (512 GiB) of guest memory, not %d MiB", minMem, maxMem, s.Mem)
	}
	if n := len(hypervisor.Disks(s)); n > maxDisks {
		refuse("volumes", "attaches at most %d disks to its microvm machine, not %d%s", maxDisks, n, hypervisor.SeedNote(s))
	}
	if len(s.Interfaces) > maxNICs {
		refuse("interfaces", "attaches at most %d network interfaces to its microvm machine, not %d", maxNICs, len(s.Interfaces))
	}
	if v := f.Assume(newest); s.Vsock.CID != 0 && v.Compare(featuresSince) >= 0 {
		release := v.String()
		if f.Release().IsZero() {
			release += " (assumed: no stratovirt telling its release was found)"
		}
		refuse("vsock.cid", "%s has vhost-vsock-device only when built with the cargo feature vhost_vsock, which is off by default since 2.5.0; leave vsock.cid out, or, if your build has the feature, add the device through stratovirt.extraArgs", release)
	}
	// Every option is split at commas, then at "=" (config/mod.rs,
	// str_slip_to_clap).
	syntax := func(path, value string) {
		if i := strings.IndexAny(value, ",="); i >= 0 {
			refuse(path, "cannot take %q: its option syntax splits at %q", value, value[i:i+1])
		}
	}
	syntax("socket", s.ControlSocket())
	for i, v := range s.Volumes {
		syntax(fmt.Sprintf("volumes[%d].image", i), v.Image)
		syntax(fmt.Sprintf("volumes[%d].serial", i), v.Serial)
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
