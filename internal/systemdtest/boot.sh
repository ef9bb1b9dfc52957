#!/bin/sh
# boot.sh SCRATCH MACHINE-ID NSPAWN-ARGS...: run by Boot in a mount
# namespace of its own (so everything mounted here goes away with it).
# Mounts the overlay of the host's root on SCRATCH/root, keeps the host's
# own services from starting in it, and boots it with systemd-nspawn,
# again after each reboot of the container.
set -eu
scratch=$1
machine_id=$2
shift 2
mount -t tmpfs -o mode=0755 microvm-systemdtest "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" microvm-systemdtest "$scratch/root"
root=$scratch/root

# The host's machine id would make the container's journal look like the
# host's (nspawn --link-journal, journalctl -m).
echo "$machine_id" > "$root/etc/machine-id"

# Services the host's administrator enabled (databases, timers, ...) are
# not what is tested, and cost seconds and CPU at every boot: mask them.
# Targets stay: they order the boot.
for w in "$root"/etc/systemd/system/*.target.wants/*; do
	[ -L "$w" ] || continue
	unit=${w##*/}
	case $unit in *.target) continue ;; esac
	ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

echo "systemdtest: booting $root"
while :; do
	rc=0
	# If this shell dies (the test binary was killed), nspawn gets
	# SIGTERM, which powers the container off.
	setpriv --pdeathsig TERM systemd-nspawn -D "$root" "$@" || rc=$?
	[ "$rc" -eq 133 ] || exit "$rc"
	echo "systemdtest: the container rebooted"
done
