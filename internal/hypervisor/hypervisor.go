// Package hypervisor defines what a runner generator is: a pure function
// from a VM spec and probed host facts to a hypervisor command line and
// the facts the host needs about it. One sub-package per hypervisor
// implements Generator; package hypervisor/all lists them.
package hypervisor

import (
	"errors"
	"strings"

	"github.com/microvm-host/microvm/internal/spec"
)

// Facts are probed host facts. Probing happens elsewhere; generators only
// read them, so golden tests can pin them.
type Facts struct {
	Arch string `json:"arch"` // "x86_64" or "aarch64"
	// KVM is true only when a probe boot under KVM succeeded. The machines
	// here have a /dev/kvm that hangs guests, so its existence is not enough.
	KVM bool `json:"kvm"`
	// Binary is the hypervisor executable to exec; "" means the
	// generator's default name, looked up on PATH at run time. The host
	// probe sets the absolute path it found, so the runner (and its
	// control commands, under systemd's minimal PATH) run the binary
	// whose version was probed.
	Binary string `json:"binary,omitempty"`
	// Version is the release number Binary reported (e.g. "53.0",
	// "1.16.0-dev"); "" when unknown. See Release.
	Version string `json:"version,omitempty"`
	// IOUring is true when the host kernel offers io_uring to the
	// hypervisor (kernel 5.10.51 or later, and io_uring_setup works: not
	// disabled by sysctl or a seccomp filter).
	IOUring bool `json:"ioUring,omitempty"`
	// TSCKHz is the host's TSC rate; guests emulated with TCG are told it
	// because they cannot calibrate their clock (see the qemu generator).
	TSCKHz int `json:"tscKHz,omitempty"`
}

// Caps is what a hypervisor supports (microvm.nix's support matrix). The
// generic spec check uses it; generators may refuse more.
type Caps struct {
	ControlSocket    bool     // has a control socket (socket option)
	SocketRequired   bool     // cannot run without one (firecracker's --api-sock)
	GracefulShutdown bool     // has a graceful power-off request (needs the socket)
	NotifySocket     bool     // forwards the guest's sd_notify READY
	MultiQueueTaps   bool     // opens vcpu queues per tap when vcpu > 1
	MacvtapAsFds     bool     // macvtaps are passed as open /dev/tapN fds
	InterfaceTypes   []string // of tap, macvtap, user, bridge
	ShareProtos      []string // of virtiofs, 9p
	PCI, USB         bool     // device passthrough
	Vsock            bool
	Balloon          bool
	HotplugMem       bool
	User             bool // runs as spec.User by itself (qemu -user)
	ForwardPorts     bool // on user networking
	// CloudInit: attaches the cloud-init seed, a read-only raw disk image
	// in the VM directory (see Disks). An image VM's root disk and the
	// image of hostModules are attached the same way.
	CloudInit bool
	// Qcow2: reads qcow2 volume images (format = "qcow2"); without it
	// only raw images.
	Qcow2 bool
	// BackingFiles: opens the backing file of a qcow2 image, so a volume
	// with base can be a copy-on-write overlay of it; without it such a
	// volume needs convert = true (a raw copy per VM).
	BackingFiles bool

	// Oldest is the first release the generator's command lines work
	// with; a probed older one is refused at build. Newest is the latest
	// release the generator was checked against: newer ones get a
	// warning, and an unknown installed release is treated as Newest.
	// Zero means no claim (hypervisors without meaningful releases).
	Oldest, Newest Version
}

// Shutdown methods: how bin/microvm-shutdown asks for a graceful power-off.
const (
	ShutdownQMP             = "qmp"              // QMP input-send-event Ctrl-Alt-Del
	ShutdownCloudHypervisor = "cloud-hypervisor" // PUT /api/v1/vm.power-button
	ShutdownFirecracker     = "firecracker"      // PUT /actions SendCtrlAltDel
	ShutdownCrosvm          = "crosvm"           // crosvm powerbtn SOCKET
)

// Balloon methods: how bin/microvm-balloon resizes the balloon.
const (
	BalloonQMP             = "qmp"              // QMP balloon (target guest RAM)
	BalloonCloudHypervisor = "cloud-hypervisor" // PUT /api/v1/vm.resize {desired_balloon}
	BalloonCrosvm          = "crosvm"           // crosvm balloon BYTES SOCKET
	BalloonKvmtool         = "kvmtool"          // lkvm balloon -i|-d MB -n NAME
)

// RunnerFile is the marker for a file inside the runner package in Argv:
// the runner's final path is unknown while generating (it is content
// addressed), so bin/microvm-run substitutes it at run time. Use
// RunnerPath to build such an argument.
const RunnerFile = "\x00RUNNER\x00/"

// RunnerPath returns an argument naming rel inside the runner package.
func RunnerPath(rel string) string { return RunnerFile + rel }

// macvtapMark brackets a macvtap's interface id inside an argument: its
// character device /dev/tapN is named by its ifindex, which only exists
// once the host created it, so bin/microvm-run substitutes it at run
// time. Use MacvtapDevice to build such an argument.
const macvtapMark = "\x00MACVTAP\x00"

// MacvtapDevice returns the path of the macvtap id's character device
// (/dev/tapN) as a marker for bin/microvm-run to resolve; it may be part
// of a larger argument ("tap=" + MacvtapDevice(id) + ",mac=…").
func MacvtapDevice(id string) string { return macvtapMark + id + macvtapMark }

// SplitMacvtapDevices splits arg at the markers of MacvtapDevice: the
// returned parts alternate between literal text and interface ids,
// starting with text (possibly empty). An arg without markers is one part.
func SplitMacvtapDevices(arg string) []string { return strings.Split(arg, macvtapMark) }

// File is a file the generator needs inside the runner package, such as
// firecracker's JSON config.
type File struct {
	Path    string // relative to the runner, e.g. "share/microvm/firecracker.json"
	Content []byte
}

// MacvtapFDs are the fds bin/microvm-run opens on /dev/tapN of a macvtap
// before exec (fd 3 + i*queues + q, as microvm.nix's lib/macvtap.nix).
type MacvtapFDs struct {
	ID  string
	FDs []int
}

// Command is a generator's output. Everything is data: rendering it into
// scripts is the runner builder's job.
type Command struct {
	Argv []string // argv[0] is the binary
	// RemoveBeforeStart are stale sockets to delete before exec (paths
	// relative to the VM directory), e.g. cloud-hypervisor's API socket.
	RemoveBeforeStart []string
	// HomeIsVMDir sets HOME to the VM directory (kvmtool keeps its
	// control sockets in $HOME/.lkvm).
	HomeIsVMDir bool
	// Env are extra environment variables, sorted by name.
	Env        []string
	Files      []File
	MacvtapFDs []MacvtapFDs

	Shutdown       string // a Shutdown* method; "" when there is no graceful path
	ShutdownSocket string // relative to the VM directory
	Balloon        string // a Balloon* method; "" when none
	BalloonSocket  string

	TapMultiQueue        bool // taps must be created with multi_queue
	SupportsNotifySocket bool

	// ControlBinary is the hypervisor's own binary that the shutdown and
	// balloon methods run (crosvm powerbtn, lkvm balloon): the one Argv
	// starts, not whatever PATH finds.
	ControlBinary string
	// NeedsTerminal is true when the hypervisor's console fails unless
	// stdin is a terminal; bin/microvm-run then gives it a pty when stdin
	// is none (under systemd it is /dev/null).
	NeedsTerminal bool
	// Requires are the releases this command line works with, within
	// Caps' Oldest: e.g. a key that only newer releases accept. Hosts
	// refuse to start the runner with an installed release outside it.
	Requires Versions
	// Notes tell the user what the runner cannot do on this host (one
	// sentence each), printed by build.
	Notes []string
}

// Generator turns a spec into a hypervisor command line. Command must be a
// pure, deterministic function of its arguments: no exec, no stat, no
// environment, no maps ranged over while emitting.
type Generator interface {
	Name() string
	Caps() Caps
	// DefaultBinary is the executable's name on PATH when Facts.Binary is
	// empty.
	DefaultBinary(arch string) string
	Command(s *spec.Spec, f Facts) (*Command, error)
}

// Binary is the executable g's command line starts with on a host with f.
func Binary(g Generator, f Facts) string {
	if f.Binary != "" {
		return f.Binary
	}
	return g.DefaultBinary(f.Arch)
}

// ErrUnsupported is wrapped by errors for spec features a hypervisor
// cannot provide.
var ErrUnsupported = errors.New("not supported")

// NumberMacvtapFDs numbers the fds bin/microvm-run opens for each macvtap
// interface of s, queues per interface, as microvm.nix's lib/macvtap.nix:
// 3 + i·queues + q (reference §5.3).
func NumberMacvtapFDs(s *spec.Spec, queues int) []MacvtapFDs {
	var out []MacvtapFDs
	next := 3
	for _, i := range s.Interfaces {
		if i.Type != "macvtap" {
			continue
		}
		m := MacvtapFDs{ID: i.ID}
		for range queues {
			m.FDs = append(m.FDs, next)
			next++
		}
		out = append(out, m)
	}
	return out
}
