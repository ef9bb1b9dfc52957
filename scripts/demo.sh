#!/usr/bin/env bash
# The demo: a real guest's life in a throwaway state directory, timed.
# Builds the demo guest (busybox initramfs for the host's kernel), writes
# a spec, creates the VM, boots it under qemu, shows it is up, shuts it
# down gracefully (the guest powers off, qemu exits by itself), and
# checks that the volume it wrote on its first boot is still there on
# the second.
set -euo pipefail
work=$(mktemp -d /tmp/microvm-demo.XXXXXX)
# The hypervisor runs as the VM user, who must reach the binary the
# runner scripts call and the files in the work directory.
chmod 755 "$work"
install -m 755 "${1:-bin/microvm}" "$work/microvm"
microvm=$work/microvm
export MICROVM_STATE_DIR=$work/state
vmpid=
cleanup() {
	[ -n "$vmpid" ] && kill "$vmpid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { echo "${EPOCHREALTIME/./}"; }
since() { local us=$(( $(now) - $1 )); printf '%d.%03d s' $((us / 1000000)) $(((us / 1000) % 1000)); }
say() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then
	say "microvm host init (VM user and group, modules, state directory)"
	"$microvm" host init
fi

kernel=$(ls -v /boot/vmlinuz-* | tail -n 1)
say "building the demo guest for $kernel"
t=$(now)
"$microvm" guest initramfs -o "$work/initrd.img"
echo "   ($(since "$t"), $(stat -c %s "$work/initrd.img") bytes)"

cat > "$work/demo.toml" <<TOML
# The demo VM: microvm.nix's options, as TOML.
hypervisor = "qemu"
vcpu = 1
mem = 256
kernel = "$kernel"
initrd = "initrd.img"
kernelParams = ["microvm.volume=/dev/vda:/data:ext4", "microvm.test-write=/data/boots"]

[[volumes]]
image = "data.img"
size = 32
label = "data"
mountPoint = "/data"
TOML
say "microvm create demo -f demo.toml"
t=$(now)
"$microvm" create demo -f "$work/demo.toml"
echo "   ($(since "$t"); includes the KVM probe on first use)"
"$microvm" list

boot() {
	local console=$1
	say "microvm run demo (boot $2)"
	t=$(now)
	"$microvm" run demo >"$console" 2>&1 &
	vmpid=$!
	for _ in $(seq 600); do
		grep -q "microvm-guest: ready" "$console" && break
		kill -0 "$vmpid" 2>/dev/null || { cat "$console"; echo "the VM exited before it was ready" >&2; exit 1; }
		sleep 0.1
	done
	grep -q "microvm-guest: ready" "$console" || { tail -20 "$console"; echo "not ready after 60 s" >&2; exit 1; }
	echo "   ready after $(since "$t")"
	grep "microvm-guest:" "$console" | sed 's/^/   guest: /'
	"$microvm" list

	say "microvm stop demo (booted/bin/microvm-shutdown: QMP Ctrl-Alt-Del, then wait)"
	t=$(now)
	"$microvm" stop demo
	local rc=0
	wait "$vmpid" || rc=$?
	vmpid=
	echo "   qemu exited by itself with status $rc after $(since "$t")"
	[ "$rc" -eq 0 ] || { tail -20 "$console"; exit 1; }
	grep -o "microvm-guest: powering off" "$console" | sed "s/^/   guest: /"
}
boot "$work/console1.log" 1
boot "$work/console2.log" 2
grep -q "boots=2" "$work/console2.log" && echo "   the volume kept its data across boots (boots=2)"

say "microvm remove demo"
"$microvm" remove demo
echo
echo "demo done"
