package cli

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/hostprep"
)

// Limits of the hypervisor process, as microvm.nix's microvm@ unit:
// LimitNOFILE=1048576, LimitMEMLOCK=infinity (VFIO pins guest memory).
const hypervisorNOFILE = 1048576

// asVMUser makes cmd run as the VM user with the hypervisor's limits. The
// VM user creates its sockets and images in the VM directory through the
// VM group (state.VMDirMode); the directory stays root's.
func asVMUser(cmd *exec.Cmd, id hostprep.Identity, warn func(string, ...any)) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(id.UID), Gid: uint32(id.GID), Groups: id.Groups,
	}}
	// Limits are inherited: set them on ourselves before the fork.
	// Raising a hard limit needs CAP_SYS_RESOURCE, which root in a
	// container may lack; then the soft limit goes as far as the hard one.
	for _, l := range []struct {
		name string
		res  int
		val  uint64
	}{{"NOFILE", unix.RLIMIT_NOFILE, hypervisorNOFILE}, {"MEMLOCK", unix.RLIMIT_MEMLOCK, unix.RLIM_INFINITY}} {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.val, Max: l.val}); err == nil {
			continue
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(l.res, &cur); err != nil {
			return fmt.Errorf("reading rlimit %s: %w", l.name, err)
		}
		cur.Cur = cur.Max
		if err := unix.Setrlimit(l.res, &cur); err != nil {
			return fmt.Errorf("raising rlimit %s for the hypervisor: %w", l.name, err)
		}
		warn("microvm: warning: cannot raise %s to %s (no CAP_SYS_RESOURCE); the hypervisor gets %s\n", l.name, limit(l.val), limit(cur.Max))
	}
	return nil
}

func limit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

// shutdownCredential is who runs bin/microvm-shutdown (supervisor.Stop):
// the VM user when root runs VMs as another user, else the caller (nil).
func (e *env) shutdownCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	id, err := e.identity()
	if err != nil {
		return nil, err
	}
	if id.UID == 0 {
		return nil, nil
	}
	return &syscall.Credential{Uid: uint32(id.UID), Gid: uint32(id.GID), Groups: id.Groups}, nil
}
