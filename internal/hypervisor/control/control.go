// Package control talks to running hypervisors: it asks them to power off
// gracefully or to resize their memory balloon, by the method a generator
// recorded in hypervisor.Command (QMP, the cloud-hypervisor and
// firecracker HTTP APIs, or the crosvm and lkvm command lines), and waits
// for them to exit. microvm.nix does this with socat, curl and jq in
// bin/microvm-shutdown and bin/microvm-balloon (reference §4.2-§4.6).
package control

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// ErrUnknownMethod is returned for a method no hypervisor package emits.
var ErrUnknownMethod = errors.New("unknown method")

const mib = 1 << 20

// RequestShutdown asks the hypervisor behind socket to power the guest
// off, by method (a hypervisor.Shutdown* constant). It returns once the
// request is delivered, long before the guest is down: wait with WaitExit,
// which is what microvm.nix gets wrong (microvm.nix#578). socket is
// relative to the working directory, normally the VM directory. binary is
// the hypervisor executable for methods that run it (crosvm powerbtn),
// as the runner recorded it (hypervisor.Command.ControlBinary); "" means
// its default name on PATH.
func RequestShutdown(ctx context.Context, method, socket, binary string) error {
	var err error
	switch method {
	case hypervisor.ShutdownQMP:
		err = qmpShutdown(ctx, socket)
	case hypervisor.ShutdownCloudHypervisor:
		// cloud-hypervisor docs/api.md; the guest sees an ACPI power
		// button press.
		err = httpPut(ctx, socket, "/api/v1/vm.power-button", nil)
	case hypervisor.ShutdownFirecracker:
		// firecracker docs/api_requests/actions.md (x86 only).
		err = httpPut(ctx, socket, "/actions", map[string]string{"action_type": "SendCtrlAltDel"})
	case hypervisor.ShutdownCrosvm:
		_, err = run(ctx, nil, orDefault(binary, "crosvm"), "powerbtn", socket)
	default:
		return fmt.Errorf("shutdown method %q: %w", method, ErrUnknownMethod)
	}
	if err != nil {
		return fmt.Errorf("requesting shutdown (%s) over %q: %w", method, socket, err)
	}
	return nil
}

// RepeatShutdown asks again, for a guest that did not act on
// RequestShutdown: the same request, and the ACPI power button where the
// hypervisor has one besides. A Ctrl-Alt-Del sent while the guest boots
// is lost; a guest whose Ctrl-Alt-Del is masked (systemd's
// ctrl-alt-del.target) still powers off on the power button. Per method:
//   - qmp: Ctrl-Alt-Del, then system_powerdown (the ACPI power button).
//   - cloud-hypervisor: vm.power-button again (its only request).
//   - firecracker: SendCtrlAltDel again; it has no ACPI power button.
//   - crosvm: powerbtn again (its only request).
func RepeatShutdown(ctx context.Context, method, socket, binary string) error {
	if method != hypervisor.ShutdownQMP {
		return RequestShutdown(ctx, method, socket, binary)
	}
	if err := qmpRepeat(ctx, socket); err != nil {
		return fmt.Errorf("requesting shutdown again (%s) over %q: %w", method, socket, err)
	}
	return nil
}

// Balloon resizes the guest's memory balloon by method (a
// hypervisor.Balloon* constant) and returns the size the hypervisor then
// reports, in MiB. As in microvm.nix, size means what the hypervisor
// means: qemu's target is the guest's RAM (it returns the RAM the guest
// has now, which follows the target as the guest driver inflates);
// cloud-hypervisor's and crosvm's is the balloon itself; kvmtool inflates
// the balloon by size MiB, or deflates it by -size. cloud-hypervisor and
// kvmtool report nothing, so for them it returns size.
//
// For kvmtool, socket is lkvm's socket DIR/.lkvm/NAME.sock, as the
// kvmtool generator records it: lkvm finds it through HOME=DIR and -n NAME.
// binary is as for RequestShutdown (crosvm, lkvm).
func Balloon(ctx context.Context, method, socket, binary string, size int64) (int64, error) {
	var (
		got int64
		err error
	)
	switch method {
	case hypervisor.BalloonQMP:
		got, err = qmpBalloon(ctx, socket, size)
	case hypervisor.BalloonCloudHypervisor:
		// cloud-hypervisor's openapi: VmResize.desired_balloon, in bytes.
		got, err = size, httpPut(ctx, socket, "/api/v1/vm.resize", map[string]int64{"desired_balloon": size * mib})
	case hypervisor.BalloonCrosvm:
		got, err = crosvmBalloon(ctx, orDefault(binary, "crosvm"), socket, size)
	case hypervisor.BalloonKvmtool:
		got, err = size, kvmtoolBalloon(ctx, orDefault(binary, "lkvm"), socket, size)
	default:
		return 0, fmt.Errorf("balloon method %q: %w", method, ErrUnknownMethod)
	}
	if err != nil {
		return 0, fmt.Errorf("resizing balloon (%s) over %q: %w", method, socket, err)
	}
	return got, nil
}

// kvmtoolBalloon runs lkvm balloon. microvm.nix's script meant to deflate
// for a negative size but tested it with \d, which bash regexes lack, so
// it always inflated.
func kvmtoolBalloon(ctx context.Context, lkvm, socket string, size int64) error {
	dir, file := filepath.Split(socket)
	if filepath.Base(dir) != ".lkvm" || !strings.HasSuffix(file, ".sock") {
		return fmt.Errorf("%q is not an lkvm socket (DIR/.lkvm/NAME.sock)", socket)
	}
	home, err := filepath.Abs(filepath.Dir(filepath.Clean(dir)))
	if err != nil {
		return err
	}
	flag := "-i"
	if size < 0 {
		flag, size = "-d", -size
	}
	if size == 0 {
		return nil
	}
	_, err = run(ctx, []string{"HOME=" + home}, lkvm, "balloon", "-n", strings.TrimSuffix(file, ".sock"), flag, fmt.Sprint(size))
	return err
}

// orDefault is binary, or name when the runner recorded none (runners made
// before the binary was recorded, and those whose hypervisor was not
// found when they were made).
func orDefault(binary, name string) string {
	if binary == "" {
		return name
	}
	return binary
}
