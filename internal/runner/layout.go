package runner

// Every name a runner package may contain, relative to the package root.
// The host's decisions depend only on which of these exist, so they must
// match microvm.nix byte for byte (reference §1.2, §9.1).
const (
	RunScript               = "bin/microvm-run"
	ShutdownScript          = "bin/microvm-shutdown"
	BalloonScript           = "bin/microvm-balloon"
	TapUpScript             = "bin/tap-up"
	TapDownScript           = "bin/tap-down"
	MacvtapUpScript         = "bin/macvtap-up"
	MacvtapDownScript       = "bin/macvtap-down"
	PCISetupScript          = "bin/pci-setup"
	VirtiofsdRunScript      = "bin/virtiofsd-run"
	VirtiofsdReloadScript   = "bin/virtiofsd-reload"
	VirtiofsdShutdownScript = "bin/virtiofsd-shutdown"

	ShareDir              = "share/microvm"
	TapInterfacesFile     = "share/microvm/tap-interfaces"
	TapFlagsFile          = "share/microvm/tap-flags"
	MacvtapInterfacesFile = "share/microvm/macvtap-interfaces"
	// TapNetworksFile is microvm's own addition: `id network mac` per
	// line for taps that join a managed network (host.toml
	// [network.NAME]). Hosts that do not know it only create the taps.
	TapNetworksFile = "share/microvm/tap-networks"
	PCIDevicesFile  = "share/microvm/pci-devices"
	USBDevicesFile  = "share/microvm/usb-devices"
	// VirtiofsDir holds one directory per share, named by its tag, each
	// with the files "source" and "socket".
	VirtiofsDir = "share/microvm/virtiofs"
	SystemLink  = "share/microvm/system"
	// MetaFile replaces the Nix passthru attributes, which a package built
	// without Nix cannot carry (reference §1.1).
	MetaFile = "share/microvm/meta.json"

	// MaxSocketPath is the longest unix socket path qemu and virtiofsd
	// accept: sun_path is 108 bytes and they need room for the NUL.
	MaxSocketPath = 107
)

const (
	binDir         = "bin"
	shareSource    = "source"
	shareSocket    = "socket"
	tapFlagVnetHdr = "vnet_hdr"
	tapFlagMultiQ  = "multi_queue"
	// maxDataFile bounds what Load reads from one share/microvm file, so a
	// runner pointing at something huge cannot make listing VMs slow.
	maxDataFile = 1 << 20
)

// shareFile returns the path of a virtiofs share's source or socket file.
func shareFile(tag, name string) string {
	return VirtiofsDir + "/" + tag + "/" + name
}

// helperScripts pairs each optional bin/ script with its flag in h.
func helperScripts(h *Helpers) []struct {
	path    string
	present *bool
} {
	return []struct {
		path    string
		present *bool
	}{
		{ShutdownScript, &h.Shutdown},
		{BalloonScript, &h.Balloon},
		{TapUpScript, &h.TapUp},
		{TapDownScript, &h.TapDown},
		{MacvtapUpScript, &h.MacvtapUp},
		{MacvtapDownScript, &h.MacvtapDown},
		{PCISetupScript, &h.PCISetup},
		{VirtiofsdRunScript, &h.VirtiofsdRun},
		{VirtiofsdReloadScript, &h.VirtiofsdReload},
		{VirtiofsdShutdownScript, &h.VirtiofsdShutdown},
	}
}
