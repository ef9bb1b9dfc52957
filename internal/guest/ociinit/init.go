package ociinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Paths inside the initramfs: where the root disk, the tmpfs holding the
// overlay's writable layer and the overlay itself are mounted.
const (
	imageMount = "/mnt/image"
	rwMount    = "/mnt/rw"
	newRoot    = "/mnt/root"
	// modulesOrder lists the modules to load, dependencies first; the
	// host's initramfs builder writes it (guest.BuildImageInitramfs).
	modulesOrder = "/etc/modules-order"
	modulesDir   = "/lib/modules"
)

// Exit statuses for a process that never ran, as a shell reports them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// Main is the init. It returns only when it is not PID 1 (the error) or
// when powering off failed; otherwise the VM ends.
func Main() error {
	if os.Getpid() != 1 {
		return errors.New("microvm-init must run as PID 1, the init of an image VM's initramfs")
	}
	console := os.Stdout
	in := &initProcess{log: console}
	code, signal := in.run()
	in.shutdown()
	// The host reads this line (ExitStatus): it must be the last, and on
	// the wire before the VM ends.
	fmt.Fprintln(console, ExitLine(code, signal))
	drain(console)
	return powerOff()
}

// initProcess is the init's state while the VM runs.
type initProcess struct {
	log    io.Writer
	mounts []string // volumes and shares, to unmount at the end
}

func (in *initProcess) say(format string, args ...any) {
	fmt.Fprintf(in.log, "microvm-init: "+format+"\n", args...)
}

func (in *initProcess) fail(err error) {
	in.say("error: %v", err)
}

// run sets the VM up, runs the process and returns its exit status.
func (in *initProcess) run() (code int, signal string) {
	stop := watchStop()
	if err := earlyMounts(); err != nil {
		in.fail(err)
		return exitCannotRun, ""
	}
	// Ctrl+Alt+Del becomes SIGINT to PID 1 instead of a hard reboot.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		in.say("warning: Ctrl+Alt+Del will reset the VM: %v", err)
	}
	for _, err := range loadModules(modulesOrder, modulesDir) {
		in.say("warning: %v", err)
	}
	watchPowerButton(stop)
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		in.fail(err)
		return exitCannotRun, ""
	}
	opts, errs := ParseCmdline(string(cmdline))
	for _, err := range errs {
		in.fail(err)
	}
	cfg, err := mountRoot()
	if err != nil {
		in.fail(err)
		return exitCannotRun, ""
	}
	// Still in the initramfs, whose root is "/".
	override, err := readProcess("")
	if err != nil {
		in.fail(err)
		return exitCannotRun, ""
	}
	if override != nil {
		override.Apply(cfg)
	}
	for _, err := range configureNetwork(opts, newRoot, in.say) {
		in.fail(err)
	}
	in.mountVolumes(opts)
	if err := switchRoot(); err != nil {
		in.fail(err)
		return exitCannotRun, ""
	}
	p, err := start(cfg, in.log)
	if err != nil {
		in.fail(err)
		var nf *notFoundError
		if errors.As(err, &nf) {
			return exitNotFound, ""
		}
		return exitCannotRun, ""
	}
	return in.supervise(p, cfg, stop)
}

// shutdown ends every other process, as the VM is about to end: SIGTERM,
// two seconds to exit, then SIGKILL; then it unmounts volumes and shares
// so their data is on the disks, and syncs.
func (in *initProcess) shutdown() {
	unix.Kill(-1, unix.SIGTERM)
	deadline := time.Now().Add(2 * time.Second)
	for reap() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	unix.Kill(-1, unix.SIGKILL)
	for reap() {
		time.Sleep(10 * time.Millisecond)
	}
	for i := len(in.mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(in.mounts[i], 0); err != nil {
			unix.Mount("", in.mounts[i], "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}
	}
	unix.Sync()
}

// reap collects exited children; it reports whether any are left.
func reap() bool {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil: // ECHILD: none left
			return false
		case pid == 0:
			return true
		}
	}
}

// drain waits until what was written to the console is on the wire:
// a write only queues it, and the power-off would cut it off.
func drain(f *os.File) {
	unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
}

// powerOff ends the VM: an ACPI power-off where there is ACPI, otherwise
// a reboot, which every hypervisor turns into its exit (qemu -no-reboot,
// firecracker). It returns only if both failed.
func powerOff() error {
	if _, err := os.Stat("/sys/firmware/acpi"); err == nil {
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	return fmt.Errorf("powering off: %w", err)
}

// exitStatus turns a wait status into a shell's exit status.
func exitStatus(ws syscall.WaitStatus) (int, string) {
	if ws.Signaled() {
		return 128 + int(ws.Signal()), unix.SignalName(ws.Signal())
	}
	return ws.ExitStatus(), ""
}
