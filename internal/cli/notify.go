package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"

	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// listenNotify makes the hypervisor's NOTIFY_SOCKET, and records in the
// runtime directory (root's) once READY=1 arrives, for the daemon. The
// socket lives in the runtime directory too, where only root creates
// entries: bound in the VM directory, which the VM user can write, it
// would have to be handed to that user by name, and a link swapped in
// meanwhile would have root chown whatever it points at. The VM user may
// send to it; forging READY only fools the daemon about that user's VMs.
func listenNotify(cmd *exec.Cmd, runtime, name string, id hostprep.Identity) (stop func(), err error) {
	if err := os.MkdirAll(runtime, 0o755); err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	path := supervisor.NotifyFile(runtime, name)
	os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if id.Switch {
		if err := os.Lchown(path, id.UID, id.GID); err != nil {
			conn.Close()
			return nil, fmt.Errorf("notify socket: %w", err)
		}
	}
	os.Remove(supervisor.ReadyFile(runtime, name))
	cmd.Env = append(cmd.Environ(), "NOTIFY_SOCKET="+path)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for _, line := range bytes.Split(buf[:n], []byte("\n")) {
				if string(line) == "READY=1" {
					supervisor.WriteReady(runtime, name)
				}
			}
		}
	}()
	return func() {
		conn.Close()
		os.Remove(path)
		os.Remove(supervisor.ReadyFile(runtime, name))
	}, nil
}
