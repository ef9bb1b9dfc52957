package virtiofsd

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeName is the name under which the test binary acts as virtiofsd.
const fakeName = "fake-virtiofsd"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == fakeName {
		os.Exit(fakeVirtiofsd(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeBinary returns a path that runs this test binary as a fake virtiofsd.
func fakeBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), fakeName)
	if err := os.Symlink(exe, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeVirtiofsd behaves like the Rust virtiofsd as far as the fleet can
// tell: it listens on --socket-path, writes SOCKET.pid, serves one
// connection and exits when it ends, and dies on SIGTERM. SOCKET.mode
// changes that:
//
//	never        never listen
//	exit-now     exit 3 before listening
//	exit-once    the first run exits 3 shortly after listening
//	crash-loop   like exit-once, but later runs exit 3 at once
//	ignore-term  ignore SIGTERM
//
// Every run appends its pid to SOCKET.runs, which Stop leaves alone.
func fakeVirtiofsd(args []string) int {
	var socket, dir string
	for _, a := range args {
		if a == "--help" {
			fmt.Println("Usage: virtiofsd [OPTIONS]\n      --shared-dir <shared-dir>  Shared directory path")
			return 0
		}
		if v, ok := strings.CutPrefix(a, "--socket-path="); ok {
			socket = v
		}
		if v, ok := strings.CutPrefix(a, "--shared-dir="); ok {
			dir = v
		}
	}
	if socket == "" || dir == "" {
		fmt.Fprintln(os.Stderr, "fake virtiofsd: --socket-path and --shared-dir are required")
		return 2
	}
	runs, err := os.OpenFile(socket+".runs", os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(runs, os.Getpid())
	runs.Close()
	modeData, _ := os.ReadFile(socket + ".mode")
	mode := strings.TrimSpace(string(modeData))
	_, statErr := os.Stat(socket + ".exited")
	firstRun := os.IsNotExist(statErr)
	switch {
	case mode == "never":
		fmt.Fprintln(os.Stderr, "fake virtiofsd: not listening, as told")
		select {}
	case mode == "exit-now", mode == "crash-loop" && !firstRun:
		fmt.Fprintln(os.Stderr, "fake virtiofsd: failing, as told")
		return 3
	case mode == "ignore-term":
		signal.Ignore(syscall.SIGTERM)
	}
	os.WriteFile(socket+".pid", []byte(strconv.Itoa(os.Getpid())), 0o644)
	l, err := net.Listen("unix", socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "fake virtiofsd: waiting for vhost-user socket connection")
	if (mode == "exit-once" || mode == "crash-loop") && firstRun {
		os.WriteFile(socket+".exited", nil, 0o644)
		time.Sleep(200 * time.Millisecond)
		return 3
	}
	c, err := l.Accept()
	if err != nil {
		return 1
	}
	// Like virtiofsd: serve the one client, exit when it hangs up.
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			return 0
		}
	}
}
