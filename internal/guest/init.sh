#!/bin/sh
# /init of the microvm demo and test guest.
#
# As PID 1 it execs busybox init, which reaps orphans and turns the
# kernel's Ctrl+Alt+Del signal (SIGINT, once init has disabled the kernel's
# own reboot) into the ctrlaltdel action of /etc/inittab. Every inittab
# action calls back into this script with a verb.
#
# Lines starting with "microvm-guest: " on the console are the contract
# with the host: "mounted TAG at MP", "address ADDR on IFACE", "boots=N",
# "cidata on DEV", "error: ...", then "ready" only if nothing failed,
# "power button", "ignoring Ctrl-Alt-Del", and "powering off" or
# "rebooting". udhcpc calls it too, with its events (microvm.dhcp).

say() { echo "microvm-guest: $*" > /dev/console; }

fail() {
	say "error: $*"
	failed=1
}

# split VALUE sets f1, f2 and f3 to VALUE's colon-separated fields.
split() {
	local IFS=:
	set -f
	set -- $1
	f1=$1 f2=$2 f3=$3
}

# wait_for PATH waits up to 5 s for PATH to exist.
wait_for() {
	local i=0
	while [ ! -e "$1" ]; do
		[ $i -ge 50 ] && return 1
		usleep 100000
		i=$((i + 1))
	done
}

load_modules() {
	while read -r m; do
		insmod "/lib/modules/$m.ko" || fail "loading module $m"
	done < /etc/modules-order
}

# share TAG:MOUNTPOINT:PROTO
share() {
	split "$1"
	local tag=$f1 mp=$f2 proto=$f3
	mkdir -p "$mp"
	case $proto in
	virtiofs) mount -t virtiofs "$tag" "$mp" ;;
	9p) mount -t 9p -o trans=virtio,version=9p2000.L,msize=65536 "$tag" "$mp" ;;
	*) fail "share $tag: protocol \"$proto\" is not virtiofs or 9p"; return ;;
	esac || { fail "mounting $tag at $mp"; return; }
	say "mounted $tag at $mp"
}

# volume DEV:MOUNTPOINT[:FSTYPE]
volume() {
	split "$1"
	local dev=$f1 mp=$f2 fstype=$f3
	# Devices probe synchronously on insmod, but give stragglers time.
	wait_for "$dev"
	mkdir -p "$mp"
	if [ -n "$fstype" ]; then
		mount -t "$fstype" "$dev" "$mp"
	else
		mount "$dev" "$mp"
	fi || { fail "mounting $dev at $mp"; return; }
	say "mounted $dev at $mp"
}

# ip IFACE:ADDR/PREFIX
address() {
	split "$1"
	ip addr add "$f2" dev "$f1" || { fail "adding address $f2 to $f1"; return; }
	say "address $f2 on $f1"
}

# dhcp IFACE asks the network's DHCP server for an address; udhcpc calls
# /init back with "bound". -q: once bound it exits and the address stays
# (a managed network keeps it reserved for the guest's MAC anyway).
dhcp() {
	udhcpc -i "$1" -n -q -t 10 -T 1 -s /init > /dev/null 2>&1 || fail "no DHCP lease on $1"
}

# dhcp_bound configures what udhcpc got: $interface, $ip, $mask (the
# prefix length), $router.
dhcp_bound() {
	ip addr flush dev "$interface"
	ip addr add "$ip/$mask" dev "$interface" || exit 1
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	say "address $ip/$mask on $interface"
}

# test_write FILE appends a line per boot, so a host test can tell a
# fresh volume from one that kept its data.
test_write() {
	echo boot >> "$1" && sync || { fail "writing $1"; return; }
	say "boots=$(wc -l < "$1")"
}

# test_cidata says where the cloud-init seed is and what its meta-data
# holds, so a host test can tell that the guest finds it the way
# cloud-init does: a disk labelled cidata with an ISO 9660 file system.
test_cidata() {
	local dev
	dev=$(findfs LABEL=cidata) || { fail "no disk labelled cidata"; return; }
	say "cidata on $dev"
	mkdir -p /run/cidata
	mount -t iso9660 -o ro "$dev" /run/cidata || { fail "mounting the cidata disk $dev"; return; }
	say "cidata $(grep local-hostname /run/cidata/meta-data)"
	umount /run/cidata
}

setup() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	mount -t tmpfs tmpfs /run
	failed=
	load_modules

	ip link set lo up
	for dev in /sys/class/net/eth*; do
		[ -e "$dev" ] || continue
		ip link set "${dev##*/}" up || fail "bringing up ${dev##*/}"
	done

	set -f
	for arg in $(cat /proc/cmdline); do
		case $arg in
		microvm.share=*) share "${arg#*=}" ;;
		microvm.volume=*) volume "${arg#*=}" ;;
		microvm.ip=*) address "${arg#*=}" ;;
		microvm.dhcp=*) dhcp "${arg#*=}" ;;
		esac
	done
	# Test writes go last: they may target any of the mounts above.
	for arg in $(cat /proc/cmdline); do
		case $arg in
		microvm.test-write=*) test_write "${arg#*=}" ;;
		microvm.test-cidata) test_cidata ;;
		esac
	done

	# acpid turns the ACPI power button into /etc/acpi/PWRF/00000080. It
	# writes its pid file after opening the input devices: waiting for it
	# keeps a button press right after "ready" from being lost.
	if [ -e /dev/input/event0 ]; then
		acpid -l /run/acpid.log -p /run/acpid.pid || fail "starting acpid"
		wait_for /run/acpid.pid || fail "acpid did not start"
	fi
	[ -z "$failed" ] && say ready
}

# ctrl_alt_del acts on Ctrl+Alt+Del as microvm.test-cad says, to play the
# guests a stop must cope with: "ignore" one whose Ctrl-Alt-Del is masked
# or lost (it powers off only on the ACPI power button), "reboot" a
# systemd guest (its Ctrl-Alt-Del is a reboot). Without it: power off.
ctrl_alt_del() {
	set -f
	for arg in $(cat /proc/cmdline); do
		case $arg in
		microvm.test-cad=ignore)
			say "ignoring Ctrl-Alt-Del"
			return
			;;
		microvm.test-cad=reboot)
			stop_all
			say "rebooting"
			# reboot=t: a triple fault, which qemu's -no-reboot ends
			# the VM on, as a guest-reset.
			reboot -f
			;;
		esac
	done
	power_off
}

# stop_all ends every process and leaves the file systems clean.
stop_all() {
	kill -TERM -1 2> /dev/null
	sync
	umount -a -r 2> /dev/null
}

power_off() {
	stop_all
	say "powering off"
	poweroff -f
	# Without ACPI poweroff cannot work; reboot=t plus qemu's -no-reboot
	# still end the VM.
	reboot -f
}

if [ $$ = 1 ]; then
	exec /bin/busybox init
fi
case $1 in
setup) setup ;;
ctrlaltdel) ctrl_alt_del ;;
# acpid runs this for the ACPI power button.
powerbutton)
	say "power button"
	power_off
	;;
# shutdown is what busybox init runs for "poweroff" or "reboot" inside the
# guest; the VM ends either way.
poweroff | shutdown) power_off ;;
# udhcpc's events (microvm.dhcp).
bound | renew) dhcp_bound ;;
deconfig) ip addr flush dev "$interface" ;;
leasefail | nak) ;;
*)
	echo "usage: /init setup|ctrlaltdel|powerbutton|poweroff|shutdown" >&2
	exit 2
	;;
esac
