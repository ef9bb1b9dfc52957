// Package ociinit is the init of image VMs: the /init of the initramfs
// the host builds for an OCI image (package oci), a static Go program
// (cmd/microvm-init) running as PID 1. It
//
//   - mounts /proc, /sys and /dev, and loads the kernel modules listed in
//     /etc/modules-order (virtio, overlay, the ACPI power button);
//   - mounts the root disk (RootDevice, ext4, read-only, shared by every
//     VM of the image) and an overlay of its RootfsDir with a tmpfs on
//     top, so the process can write, in memory, without touching the disk;
//   - configures the network and mounts volumes and shares as the kernel
//     command line says (Options), in the demo guest's conventions;
//   - switches into the image's root and runs its process (Config, or
//     the VM's own Process where the host added ProcessFile to the
//     initramfs) as its user, with the console as stdin, stdout and
//     stderr;
//   - forwards a power-off request — Ctrl+Alt+Del (SIGINT to PID 1), the
//     ACPI power button, SIGTERM — to the process as its stop signal;
//   - when the process exits, ends every other process, writes ExitLine
//     on the console for the host, and powers the VM off.
//
// Anything that fails before the process starts is reported on the
// console ("microvm-init: error: …") and ends the VM with exit status
// 127 (not found) or 126 (cannot run), as a shell would.
package ociinit
