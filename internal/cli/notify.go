package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/hostprep"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// NotifySocketName is the sd_notify socket of a monitored VM whose runner
// forwards the guest's readiness (supportsNotifySocket: cloud-hypervisor's
// vmm.notify_socket relay in microvm-run). It is in the VM directory so
// the VM user can send to it; forging READY there only fools the daemon
// about that user's own VM.
const NotifySocketName = "microvm-notify.sock"

// listenNotify makes the hypervisor's NOTIFY_SOCKET, and records in the
// runtime directory (root's) once READY=1 arrives, for the daemon.
func listenNotify(cmd *exec.Cmd, vmDir, runtime, name string, id hostprep.Identity) (stop func(), err error) {
	path := filepath.Join(vmDir, NotifySocketName)
	os.Remove(path)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	if id.Switch {
		if err := os.Chown(path, id.UID, id.GID); err != nil {
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
