// Package systemdtest boots a real systemd for the systemd test tier: the
// host's own root, seen through an overlay (a tmpfs upper directory over
// lowerdir=/), booted by systemd-nspawn with a private network, so units,
// taps and the journal are the container's and the host is left alone.
//
// Never start systemd on the host's real root (for example in a bare
// `unshare --pid`): its systemd-tmpfiles --boot empties the real /tmp, and
// udev and other services act on the host. The overlay here is mounted in
// a mount namespace of its own, held by a small shell that also restarts
// systemd-nspawn when the container reboots (exit status 133): when that
// shell and the container are gone, so are the mounts, whatever way the
// test binary ended.
//
// Commands run inside with `nsenter -t LEADER -a`, LEADER being the
// container's PID 1 as the host sees it.
package systemdtest
