// Package state manages the state directory: one directory per VM in
// microvm.nix's layout, a content-addressed store for runner packages that
// do not live in a Nix store, per-VM locks, and garbage collection.
package state

// DefaultRoot is microvm.nix's state directory.
const DefaultRoot = "/var/lib/microvms"

// EnvRoot overrides DefaultRoot; --state-dir overrides both.
const EnvRoot = "MICROVM_STATE_DIR"

// Entries of a VM directory, NAME/... . The names are microvm.nix's, so a
// state directory written by either host can be read by the other.
const (
	CurrentLink  = "current"     // runner to start next
	BootedLink   = "booted"      // runner running now (from before setup until after teardown)
	OldLink      = "old"         // runner that current replaced
	FlakeFile    = "flake"       // flake reference update rebuilds from (no trailing newline)
	SourceFile   = "source.json" // any other source: see Source
	ToplevelLink = "toplevel"    // marks a fully declarative VM; update refuses it
	ProcessFile  = "process"     // pid and start time of the running hypervisor
	// OwnerFile names the tool that created the VM and alone may replace
	// or remove it (see Owner); absent for VMs created by hand.
	OwnerFile = "owner"
	// SeedFile is the cloud-init seed the host builds at every start of a
	// runner that has one (root:GROUP 0640: user-data can hold secrets).
	SeedFile = "cidata.iso"
	// ImageRootFile and ImageInitrdFile are an image VM's root disk and
	// initramfs: hard links to read-only entries of ImagesDir that the
	// host puts in place at every start and removes after the VM stopped.
	ImageRootFile   = "image-root.ext4"
	ImageInitrdFile = "image-initrd.img"
	// ModulesFile is the read-only ext4 image of the host's kernel modules
	// that bin/microvm-run makes, as the VM user, for a spec with
	// hostModules.
	ModulesFile = "host-modules.img"
)

// Entries of the state directory itself. They start with a dot, which no
// VM name may, so they can never collide with a VM directory.
const (
	StoreDir = ".store" // content-addressed runner packages
	LocksDir = ".locks" // one lock file per VM name, plus StoreLock and one per image cache entry being built
	TmpDir   = ".tmp"   // staging area; renamed into place when complete
	// LogsDir holds the VMs' console logs. Not in the VM directories:
	// the VM user can write those, and root must not append to a file
	// that user could have replaced with a symlink.
	LogsDir = ".logs"
	// NetworksDir holds the lease files of the managed networks
	// (host.toml [network.NAME]), root's, so that a guest MAC keeps its
	// address across restarts and whoever serves DHCP next.
	NetworksDir = ".networks"
	// ImagesDir caches the root disks of OCI images and the initramfs
	// images that boot them (package oci), root's (0700), content
	// addressed, so VMs of one image share the flattening.
	ImagesDir = ".images"
	// RemovedDir keeps the data of VMs microvm apply removed, one
	// directory NAME-TIMESTAMP each (Retire), root's (0700): the data is
	// the user's to move back or delete.
	RemovedDir = ".removed"
	// KubeletDir holds the Kubernetes provider's record of each Pod it
	// made a VM for (package kubelet), root's (0700).
	KubeletDir = ".kubelet"
)

// DefaultRuntimeDir holds sockets that live as long as the host runs:
// the console socket of each VM run with --monitor.
const DefaultRuntimeDir = "/run/microvm"

// EnvRuntimeDir overrides DefaultRuntimeDir.
const EnvRuntimeDir = "MICROVM_RUNTIME_DIR"

// StoreLock serialises garbage collection against imports: imports hold it
// shared until their link is in place, GC holds it exclusively.
const StoreLock = ".store"

// nixStore is where Nix-built runners live; they are linked, never copied.
const nixStore = "/nix/store/"
