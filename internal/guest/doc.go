// Package guest builds the demo and test guest: a gzip-compressed initramfs
// holding a static busybox, an /init script and the kernel modules for
// virtio devices, booted with a distribution kernel (Debian's
// linux-image-cloud-amd64). It also probes whether KVM can boot it.
//
// The guest is configured on the kernel command line:
//
//	microvm.share=TAG:MOUNTPOINT:PROTO     PROTO virtiofs or 9p; repeatable
//	microvm.volume=DEV:MOUNTPOINT[:FSTYPE] e.g. /dev/vda:/data:ext4; repeatable
//	microvm.ip=IFACE:ADDR/PREFIX           e.g. eth0:10.0.2.15/24; repeatable
//	microvm.dhcp=IFACE                     address and default route by DHCP
//	                                       (busybox udhcpc); repeatable
//	microvm.test-write=FILE                append "boot" to FILE, print boots=N
//	microvm.test-cad=ignore                ignore Ctrl+Alt+Del (masked, or lost
//	                                       while booting): only the ACPI power
//	                                       button powers it off
//	microvm.test-cad=reboot                reboot on Ctrl+Alt+Del, as a systemd
//	                                       guest does (the VM ends as a reset)
//
// and reports on the console (ttyS0), one line each:
//
//	microvm-guest: mounted TAG at MOUNTPOINT
//	microvm-guest: address ADDR/PREFIX on IFACE   (static or from DHCP)
//	microvm-guest: boots=N
//	microvm-guest: error: WHAT             then no ready line
//	microvm-guest: ready                   ReadyLine
//	microvm-guest: power button            PowerButtonLine
//	microvm-guest: ignoring Ctrl-Alt-Del   IgnoringCADLine
//	microvm-guest: powering off            PoweringOffLine
//	microvm-guest: rebooting               RebootingLine
//
// Lo and every eth* interface are brought up. The guest powers off cleanly
// (sync, unmount, ACPI poweroff) on Ctrl+Alt+Del, which is what
// microvm.nix's qemu shutdown sends (unless microvm.test-cad says
// otherwise), and on the ACPI power button, which cloud-hypervisor and
// crosvm send, and qemu's system_powerdown.
//
// Host requirements found while building it, for whoever writes the qemu
// command line:
//   - Under TCG, add TCGKernelParams to the kernel command line: with
//     pit=off the kernel cannot calibrate the TSC and hangs.
//   - Ctrl+Alt+Del needs -device i8042; the power button needs acpi=on.
//   - vhost-user-fs-device (virtiofs) on the microvm machine needs
//     -global virtio-mmio.force-legacy=false, a memfd memory backend with
//     share=on; virtiofsd refuses legacy virtio devices.
//   - Debian's cloud kernel has no 9p (CONFIG_NET_9P is not set): 9p shares
//     need another kernel, e.g. linux-image-amd64.
package guest
