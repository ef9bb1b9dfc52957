package control

import "fmt"

// Why a hypervisor ended, as far as it tells. A guest's reboot ends the
// process for every hypervisor microvm generates runners for (qemu's
// -no-reboot, reboot=t/k on the kernel command line), and so does its
// power-off: both usually exit with status 0, so the status alone cannot
// tell a reboot, which must start the VM again (with the new runner, if
// it was updated), from a power-off, which must leave it off.
//
// What each hypervisor can tell:
//   - qemu: its QMP SHUTDOWN event says "guest-shutdown", "guest-reset",
//     "guest-panic" (with a pvpanic device) or a host reason
//     ("host-signal", "host-qmp-quit", …). Generated runners give qemu a
//     second QMP monitor for it (qemu.EventsSocket): the first one, the
//     control socket, serves one client at a time, and
//     bin/microvm-shutdown needs it.
//   - crosvm: its exit status: 0 stop, 32 reset, 33 crash, 34 guest
//     panic, 36 watchdog reset (crosvm src/main.rs, CommandStatus).
//   - cloud-hypervisor: a guest reboot does not end the process (it
//     resets the VM inside it), so an exit is a power-off or a crash; its
//     --event-monitor would tell more, but no runner asks for it yet.
//   - firecracker: on x86 a power-off halts the guest without ending the
//     process (no ACPI power-off), so an exit with status 0 is a reboot
//     (or the Ctrl-Alt-Del of a stop); its API has no event stream.
//   - kvmtool, stratovirt, alioth: nothing beyond the exit status.
//
// Under systemd nothing watches qemu's events socket: the unit's main
// process is the hypervisor itself, whose status is 0 either way, so
// microvm@ cannot tell a reboot from a power-off (RestartPreventExitStatus
// would need a status that differs). Only crosvm's statuses could be told
// apart there.
const (
	EndPowerOff = "poweroff" // the guest powered off
	EndReboot   = "reboot"   // the guest rebooted
	EndPanic    = "panic"    // the guest panicked, or the hypervisor crashed
	EndHost     = "host"     // the host ended it: a signal, a QMP quit
)

// Ending is why a hypervisor ended: Why is an End* constant, "" when it
// did not say; Detail is its own word for it ("guest-reset", "exit
// status 32").
type Ending struct {
	Why    string
	Detail string
}

// crosvm's exit statuses (crosvm src/main.rs, CommandStatus).
const (
	crosvmReset         = 32
	crosvmCrash         = 33
	crosvmGuestPanic    = 34
	crosvmWatchdogReset = 36
)

// EndingOfExit is what the exit status code of the hypervisor hv (as a
// runner's meta.json names it) says, for hypervisors that encode the
// reason in it (crosvm); the zero Ending for the others.
func EndingOfExit(hv string, code int) Ending {
	if hv != "crosvm" {
		return Ending{}
	}
	detail := fmt.Sprintf("crosvm exit status %d", code)
	switch code {
	case crosvmReset:
		return Ending{EndReboot, detail}
	case crosvmCrash, crosvmGuestPanic, crosvmWatchdogReset:
		return Ending{EndPanic, detail}
	}
	return Ending{}
}

// endingOfQMP maps a QMP SHUTDOWN event (qapi/run-state.json,
// ShutdownCause) to an Ending.
func endingOfQMP(guest bool, reason string) Ending {
	switch reason {
	case "guest-shutdown":
		return Ending{EndPowerOff, reason}
	case "guest-reset":
		return Ending{EndReboot, reason}
	case "guest-panic":
		return Ending{EndPanic, reason}
	}
	if guest {
		// A guest cause newer than this list: the guest chose to end,
		// which is not a crash; a power-off is the careful guess.
		return Ending{EndPowerOff, reason}
	}
	return Ending{EndHost, reason}
}
