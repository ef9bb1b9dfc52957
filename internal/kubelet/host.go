package kubelet

import (
	"context"
	"io"
	"time"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// Host is what the provider needs of this host: the state directory and
// the daemon that supervises its VMs. The CLI implements it on the same
// code paths as create, start, stop and remove.
type Host interface {
	// Create makes the VM p.VM, owned by state.OwnerKubelet, from p's
	// runner source or spec. It leaves nothing behind when it fails.
	Create(ctx context.Context, p Plan) error
	// Start has the daemon start name and keep it running.
	Start(ctx context.Context, name string) error
	// Stop stops name gracefully, waiting at most timeout for the guest
	// before the hypervisor is terminated, and keeps it stopped. A VM
	// that is not running is no error.
	Stop(ctx context.Context, name string, timeout time.Duration) error
	// Remove removes the stopped VM name, if it is still
	// state.OwnerKubelet's; a VM that does not exist is no error.
	Remove(ctx context.Context, name string) error
	// VMs are the host's VMs with their owner and status.
	VMs(ctx context.Context) ([]VM, error)
	// Logs writes the VM's console log to w: its last lines (all with
	// 0), then, with follow, what it writes next until ctx ends. A VM
	// that has no log yet is an error matching os.ErrNotExist.
	Logs(ctx context.Context, name string, lines int, follow bool, w io.Writer) error
}

// VM is one VM of the host.
type VM struct {
	Owner  state.Owner
	Status supervisor.Status
}

// stopMargin is how long a stop may take beyond the Pod's grace period:
// the ladder's terminate and kill steps, and the monitor's teardown.
const stopMargin = 30 * time.Second
