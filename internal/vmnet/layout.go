package vmnet

import "path/filepath"

// Names in the runtime directory ($MICROVM_RUNTIME_DIR, root's): they
// live as long as what they describe, the bridges and the sysctl, which
// a reboot resets too.
const (
	runDir = "network" // RUNTIME/network, 0700
	// upLock serialises Up and Down of all networks: bridges, the NAT
	// tables and the forwarding sysctl are changed by several processes.
	upLock = "up.lock"
	// forwardMarker exists while microvm is the one that turned IPv4
	// forwarding on; Down turns it off only then.
	forwardMarker = "ip_forward"
	// serveLockSuffix: NAME.dhcp.lock is held by whoever serves DHCP on
	// the network; the others wait and take over when it is released.
	serveLockSuffix = ".dhcp.lock"
	// leaseSuffix: STATE/.networks/NAME.leases.json.
	leaseSuffix = ".leases.json"
)

// Marker is the alias of the bridge of network name: what makes it ours.
func Marker(name string) string { return "microvm network " + name }

// Table is the nftables table (family ip) of network name.
func Table(name string) string { return "microvm-" + name }

// LeaseFile is the lease file of network name in the leases directory.
func LeaseFile(dir, name string) string { return filepath.Join(dir, name+leaseSuffix) }
