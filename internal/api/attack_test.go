package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The attack test re-executes this test binary as other users: with
// childEnv set, TestMain runs the child's part instead of the tests.
const (
	childEnv     = "MICROVM_API_TEST_CHILD"
	childSockEnv = "MICROVM_API_TEST_RUNTIME"
	attackConns  = 3000
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode, os.Getenv(childSockEnv)))
	}
	os.Exit(m.Run())
}

func child(mode, dir string) int {
	switch mode {
	case "attack":
		return attack(filepath.Join(dir, SocketName))
	case "mutate":
		c := NewClient(dir)
		ctx := context.Background()
		fmt.Println("stop:", describe(c.Do(ctx, "stop", "vm", time.Minute)))
		st, err := c.Statuses(ctx)
		fmt.Printf("status: %d VMs: %s\n", len(st), describe(err))
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
	return 2
}

func describe(err error) string {
	var e *Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &e):
		return fmt.Sprintf("%d %s", e.Code, e.Message)
	}
	return "error " + err.Error()
}

// attack is the VM user's part: attackConns connections that each send
// half a request and hold on, until the daemon closes every one of them.
func attack(sock string) int {
	var conns []net.Conn
	failed := 0
	for range attackConns {
		c, err := net.Dial("unix", sock)
		if err != nil {
			failed++
			continue
		}
		c.Write([]byte("GET /v1/vms HTTP/1.1\r\nHost: microvm\r\n")) // no blank line: never complete
		conns = append(conns, c)
	}
	fmt.Printf("opened %d failed %d\n", len(conns), failed)
	var wg sync.WaitGroup
	var refused atomic.Int32
	for _, c := range conns {
		wg.Go(func() {
			b, _ := io.ReadAll(c)
			if bytes.HasPrefix(b, []byte("HTTP/1.1 503 ")) {
				refused.Add(1)
			}
			c.Close()
		})
	}
	wg.Wait()
	fmt.Printf("closed %d refused %d\n", len(conns), refused.Load())
	return 0
}

// TestAttackAsVMUser plays the audit's VM user against the real server
// and daemon: thousands of half-sent requests must not cost the daemon
// more than its caps in fds, must not keep root from being answered, and
// are closed after the header timeout; the VM user may read status but
// not stop a VM, even as a member of the admin group, while root and the
// admin group's members may.
func TestAttackAsVMUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the attacker and the other users run as real uids (65531-65534) through SysProcAttr.Credential; CI runs this as root")
	}
	// Everything the other users need is in a directory they can reach
	// (t.TempDir's parent is root's only).
	dir, err := os.MkdirTemp("", "microvm-api-attack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	exe := filepath.Join(dir, "api.test")
	if err := copyExecutable(exe); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	for _, d := range []string{dir, run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// The VM group is nogroup (65534), which owns the socket; the VM user
	// is nobody (65534); admins are group 4242.
	const vmUID, vmGID, adminGID = 65534, 65534, 4242
	lim := testLimits()
	lim.ReadHeaderTimeout = 5 * time.Second
	// Two attackers: each is held to PerUID, both together to what is
	// not root's reserve (40 - 8 = 32 < 2*20).
	lim.Total, lim.RootReserve, lim.PerUID = 40, 8, 20
	acc := &Access{vmUser: "nobody", vmUID: vmUID, hasVMUser: true, adminGroup: "ops", adminGID: adminGID, hasAdmin: true, proc: "/proc"}
	dm := realDaemon(t, dir)
	inner, err := Listen(filepath.Join(run, SocketName), vmGID)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := newTestLog()
	ln := LimitListener(inner, lim, log)
	srv := NewServer(Handler(dm, acc, log), lim, log)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	root := NewClient(run)
	if _, err := root.Statuses(context.Background()); err != nil {
		t.Fatalf("before the attack: %v", err)
	}

	baseline := countFDs(t)
	var maxFDs atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(countFDs(t)); n > maxFDs.Load() {
				maxFDs.Store(n)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	// The VM user, and another member of the VM group.
	attackers := []uint32{vmUID, 65533}
	var outs []<-chan string
	var opened []string
	for _, uid := range attackers {
		outs = append(outs, spawn(t, exe, run, &syscall.Credential{Uid: uid, Gid: vmGID}, "attack"))
	}
	for i, uid := range attackers {
		opened = append(opened, expectLine(t, outs[i], "opened "))
		var n, failed int
		fmt.Sscanf(opened[i], "opened %d failed %d", &n, &failed)
		if n < 10*lim.Total {
			t.Fatalf("uid %d opened only %d connections (%d failed): no test of the caps", uid, n, failed)
		}
	}
	eventually(t, "the attackers holding all they may", func() bool {
		return ln.Open(attackers[0])+ln.Open(attackers[1]) == lim.Total-lim.RootReserve
	})
	for _, uid := range attackers {
		if n := ln.Open(uid); n > lim.PerUID {
			t.Fatalf("uid %d holds %d connections, over its cap %d", uid, n, lim.PerUID)
		}
	}

	// (a) Root is answered, reading and changing, while the attackers
	// hold every connection others than root may have.
	st, err := root.Statuses(context.Background())
	if err != nil || len(st) != 1 || st[0].Name != "vm" {
		t.Fatalf("root's status during the attack: %v, %v", st, err)
	}
	if err := root.Do(context.Background(), "stop", "vm", time.Minute); err != nil {
		t.Fatalf("root's stop during the attack: %v", err)
	}

	// (c) The daemon closes every connection: the refused ones at once,
	// the half-sent requests after the header timeout.
	for i, uid := range attackers {
		closed := expectLine(t, outs[i], "closed ")
		var nOpened, nClosed, nRefused int
		fmt.Sscanf(opened[i], "opened %d", &nOpened)
		fmt.Sscanf(closed, "closed %d refused %d", &nClosed, &nRefused)
		if nClosed != nOpened || nRefused < nOpened-2*lim.PerUID {
			t.Fatalf("uid %d: %s after %s: too few refused at once", uid, closed, opened[i])
		}
		t.Logf("uid %d: %s, %s", uid, opened[i], closed)
		eventually(t, "the attackers' connections given back", func() bool { return ln.Open(uid) == 0 })
	}
	close(stopSampling)
	<-sampled

	// (b) The daemon's fds stayed bounded by its caps (6000 without).
	if most := int(maxFDs.Load()); most > baseline+lim.Total+16 {
		t.Fatalf("fds rose from %d to %d during the attack; the caps allow %d connections", baseline, most, lim.Total)
	}
	t.Logf("fds: %d before, at most %d during the attack", baseline, maxFDs.Load())
	// Thousands of refusals, one log line per uid.
	for _, uid := range attackers {
		if n := logs.count("refusing API connections over the limit", fmt.Sprintf("uid=%d ", uid)); n != 1 {
			t.Fatalf("refusals of uid %d logged %d times, want once:\n%s", uid, n, logs)
		}
	}

	// (d) Who may change VMs: never the VM user, even in the admin group;
	// a member of the VM group may read only; admins by primary or by
	// supplementary group may.
	for _, tc := range []struct {
		who  string
		cred *syscall.Credential
		stop string
	}{
		{"the VM user in the admin group", &syscall.Credential{Uid: vmUID, Gid: vmGID, Groups: []uint32{adminGID}}, `403 permission denied: uid 65534 is the VM user "nobody", which may only read status`},
		{"a member of the VM group", &syscall.Credential{Uid: 65533, Gid: vmGID}, `403 permission denied: uid 65533 may read status only; starting, stopping and restarting VMs through the API is for root and members of group "ops"`},
		{"an admin by primary group", &syscall.Credential{Uid: 65532, Gid: adminGID, Groups: []uint32{vmGID}}, "ok"},
		{"an admin by supplementary group", &syscall.Credential{Uid: 65531, Gid: 65531, Groups: []uint32{vmGID, adminGID}}, "ok"},
	} {
		lines := spawn(t, exe, run, tc.cred, "mutate")
		if got := expectLine(t, lines, "stop: "); !strings.HasPrefix(got, "stop: "+tc.stop) {
			t.Errorf("%s: %s, want %s", tc.who, got, tc.stop)
		}
		if got := expectLine(t, lines, "status: "); got != "status: 1 VMs: ok" {
			t.Errorf("%s: %s", tc.who, got)
		}
	}
	if n := logs.count("refusing an API request", "uid=65534", "verb=stop"); n != 1 {
		t.Errorf("the VM user's refused stop logged %d times:\n%s", n, logs)
	}
	if n := logs.count("API request", "uid=65531", "verb=stop", "vm=vm"); n != 1 {
		t.Errorf("the admin's stop logged %d times:\n%s", n, logs)
	}
}

// spawn runs this test binary as cred in child mode, and returns its
// stdout's lines (closed when it ends). It is killed when the test ends.
func spawn(t *testing.T, exe, run string, cred *syscall.Credential, mode string) <-chan string {
	t.Helper()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childSockEnv+"="+run)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if s := stderr.String(); s != "" {
			t.Logf("child %s (uid %d) stderr:\n%s", mode, cred.Uid, s)
		}
	})
	return lines
}

// expectLine waits (generously) for the child's next line, which must
// start with prefix.
func expectLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("the child ended before %q", prefix)
		}
		if !strings.HasPrefix(l, prefix) {
			t.Fatalf("child said %q, want %q…", l, prefix)
		}
		return l
	case <-time.After(120 * time.Second):
		t.Fatalf("no %q from the child after 120 s", prefix)
	}
	return ""
}

func countFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Error(err)
	}
	return len(entries)
}

// copyExecutable copies this test binary to dst, executable by all (the
// go build cache is root's only).
func copyExecutable(dst string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}
