// Package runner reads, validates and writes runner packages: directories
// that completely describe how to run one VM, in the layout microvm.nix
// produces (bin/microvm-run, share/microvm/*). See layout.go for the names.
package runner

import (
	"errors"
	"fmt"
	"path/filepath"
)

// Runner is the parsed content of a runner package.
type Runner struct {
	Dir      string // absolute directory it was loaded from; ignored by Write
	Meta     *Meta  // nil when the runner has no meta.json (Nix-built runners)
	Taps     []string
	TapFlags TapFlags // zero value when tap-flags is absent
	Macvtaps []Macvtap
	// TapNetworks are the taps, of Taps, that join a managed network.
	TapNetworks []TapNetwork
	PCIDevices  []string
	USBDevices  []string
	Shares      []Share // virtiofs shares, sorted by tag
	System      string  // target of share/microvm/system; "" when absent
	Helpers     Helpers // which optional bin/ scripts exist; ignored by Write
}

// Meta is what Nix keeps in the runner's passthru attributes; the host
// needs it to choose the unit type and to check tap flags.
type Meta struct {
	Hypervisor           string `json:"hypervisor"`
	CanShutdown          bool   `json:"canShutdown"`
	SupportsNotifySocket bool   `json:"supportsNotifySocket"`
	TapMultiQueue        bool   `json:"tapMultiQueue"`
}

// TapFlags are the flags taps must be created with; a mismatch with what
// the hypervisor opens makes it fail with EINVAL.
type TapFlags struct {
	VnetHdr    bool
	MultiQueue bool
}

// Macvtap is one line of macvtap-interfaces. MAC is the guest's address,
// which microvm.nix sets on the macvtap itself.
type Macvtap struct {
	ID   string
	MAC  string
	Link string
	Mode string
}

// TapNetwork is one line of tap-networks: the tap ID joins the managed
// network Network, and the guest behind it has the address MAC, by which
// the network's DHCP server knows it.
type TapNetwork struct {
	ID      string
	Network string
	MAC     string
}

// NetworkOf returns the managed network the tap id joins, or "".
func (r *Runner) NetworkOf(id string) string {
	for _, n := range r.TapNetworks {
		if n.ID == id {
			return n.Network
		}
	}
	return ""
}

// Share is one virtiofs share. Source and Socket are exactly as in the
// package: relative paths are relative to the VM's state directory.
type Share struct {
	Tag    string
	Source string
	Socket string
}

// Helpers records which optional bin/ scripts a runner ships; newer
// microvm.nix runners do host setup themselves through these.
type Helpers struct {
	Shutdown          bool
	Balloon           bool
	TapUp             bool
	TapDown           bool
	MacvtapUp         bool
	MacvtapDown       bool
	PCISetup          bool
	VirtiofsdRun      bool
	VirtiofsdReload   bool
	VirtiofsdShutdown bool
}

// SocketPath returns where the socket of s is when the VM runs in vmDir.
func (r *Runner) SocketPath(vmDir string, s Share) string {
	return inDir(vmDir, s.Socket)
}

// SourcePath returns the shared directory of s when the VM runs in vmDir.
func (r *Runner) SourcePath(vmDir string, s Share) string {
	return inDir(vmDir, s.Source)
}

func inDir(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// CheckPaths reports every share whose socket path, once resolved against
// vmDir, does not fit in sun_path. It depends on where the VM lives, so
// Load cannot check it.
func (r *Runner) CheckPaths(vmDir string) error {
	var errs []error
	for _, s := range r.Shares {
		p := r.SocketPath(vmDir, s)
		if len(p) > MaxSocketPath {
			errs = append(errs, &Error{
				Path: shareFile(s.Tag, shareSocket),
				Line: 1,
				Msg: fmt.Sprintf("virtiofs share %q: socket path %q is %d bytes; expected at most %d",
					s.Tag, p, len(p), MaxSocketPath),
			})
		}
	}
	return errors.Join(errs...)
}
