package virtiofsd

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A /proc/net/unix excerpt: a listener, a connected stream socket on the
// same path, an abstract listener, an unbound socket, a path with spaces
// and a large, unpadded inode.
const unixTable = `Num       RefCount Protocol Flags    Type St Inode Path
00000000e3ad862c: 00000002 00000000 00010000 0001 01 111750 /run/vm/fs.sock
0000000012345678: 00000003 00000000 00000000 0001 03 111751 /run/vm/fs.sock
00000000abcdef00: 00000002 00000000 00010000 0001 01  20017 @/tmp/.X11-unix/X0
00000000abcdef01: 00000002 00000000 00000000 0002 01  20018
00000000abcdef02: 00000002 00000000 00010000 0001 01 4294967299 /srv/my share.sock
`

func TestListenersParse(t *testing.T) {
	got, err := listeners(strings.NewReader(unixTable))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]uint64{"/run/vm/fs.sock": {111750}, "/srv/my share.sock": {4294967299}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listeners (-want +got):\n%s", diff)
	}
}

// TestListeningReal checks the check against the kernel: our listener
// counts for us, not for another process, and not once closed.
func TestListeningReal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	table, err := readListeners()
	if err != nil {
		t.Fatal(err)
	}
	if !listening(table, path, os.Getpid()) {
		t.Error("own listener not seen")
	}
	if listening(table, path, os.Getppid()) {
		t.Error("listener attributed to the parent process")
	}
	l.Close()
	if table, _ = readListeners(); listening(table, path, os.Getpid()) {
		t.Error("closed listener still seen")
	}
}

// TestListeningInGroup: a listener held by another member of the daemon's
// process group counts, as a daemon might listen in its sandbox child.
func TestListeningInGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.sock")
	// sh leads the group and holds nothing; its child listens.
	cmd := exec.Command("/bin/sh", "-c", `"$0" --socket-path="$1" --shared-dir=/ & wait`, fakeBinary(t), path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		table, err := readListeners()
		if err != nil {
			t.Fatal(err)
		}
		if listening(table, path, cmd.Process.Pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("listener of the leader's child not seen; group members %v", groupMembers(cmd.Process.Pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
