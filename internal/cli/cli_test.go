package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/microvm-host/microvm/internal/guest"
)

// TestMain installs the real command tree as the `microvm` executable of
// the scripts, so they run it as users do: as a separate process, which
// tests can also interrupt or kill.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"microvm":  func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
		"attacker": attackerMain,
	})
}

// TestScripts runs testdata/script/*.txtar against a fresh state directory
// ($MICROVM_STATE_DIR = $WORK/state) each.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("MICROVM_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("MICROVM_RUNTIME_DIR", filepath.Join(env.WorkDir, "run"))
			// As root, run drops to the host config's VM user; the tests
			// keep root unless they test that drop (see asuser.txtar).
			hostConfig := filepath.Join(env.WorkDir, ".host.toml")
			if err := os.WriteFile(hostConfig, []byte("user = \"root\"\ngroup = \"root\"\n"), 0o644); err != nil {
				return err
			}
			env.Setenv("MICROVM_HOST_CONFIG", hostConfig)
			return openToVMUser(env)
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "guest":
				return canBootGuest(), nil
			case "root":
				return os.Geteuid() == 0, nil
			case "debianmirror":
				return condDebianMirror(), nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfor":      cmdWaitFor,
			"netns":        cmdNetNS,
			"notifysocket": cmdNotifySocket,
			"waitnotify":   cmdWaitNotify,
			"waitfile":     cmdWaitFile,
			"snapshot":     cmdSnapshot,
			"unchanged":    cmdUnchanged,
			"asvm":         cmdAsVM,
			"buildinit":    cmdBuildInit,
			"ociimage":     cmdOCIImage,
			"qmp":          cmdQMP,
			"debianimage":  cmdDebianImage,
			"waitlong":     cmdWaitLong,
			"waitevent":    cmdWaitEvent,
			"eventseq":     cmdEventSeq,
			"pty":          cmdPty,
			"freeport":     cmdFreePort,
			"promquery":    cmdPromQuery,
		},
	})
}

// freeport VAR: set VAR to a TCP port on 127.0.0.1 that was free a
// moment ago, for a server the script configures.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ln.Close()
}

// waitfile PATH: wait (up to 30 s) until PATH exists.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Lstat(ts.MkAbs(args[0])); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear", args[0])
}

// waitfor FILE REGEXP: wait (up to 120 s: TCG boots on busy machines are
// slow) until FILE has a line matching REGEXP.
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitfor FILE REGEXP")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(ts.MkAbs(args[0])); err == nil && re.Match(b) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(ts.MkAbs(args[0]))
	ts.Fatalf("%s has no line matching %q after 120 s:\n%s", args[0], args[1], b)
}

// netns: create a network namespace for this script, named in $NS, and
// delete it when the script ends, whatever happens.
func cmdNetNS(ts *testscript.TestScript, neg bool, args []string) {
	sum := sha256.Sum256([]byte(ts.Getenv("WORK")))
	name := "mvt-" + hex.EncodeToString(sum[:4])
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		ts.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ts.Defer(func() { exec.Command("ip", "netns", "del", name).Run() })
	ts.Setenv("NS", name)
}

// notifySockets are the sd_notify sockets scripts listen on, by path.
var notifySockets sync.Map

// notifysocket PATH: listen for sd_notify datagrams on PATH (a stand-in
// for systemd's $NOTIFY_SOCKET).
func cmdNotifySocket(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: notifysocket PATH")
	}
	path := ts.MkAbs(args[0])
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	ts.Check(err)
	ts.Defer(func() { conn.Close() })
	notifySockets.Store(path, conn)
}

// waitnotify PATH MESSAGE: wait (up to 30 s) for a datagram containing
// MESSAGE on a socket made by notifysocket.
func cmdWaitNotify(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: waitnotify PATH MESSAGE")
	}
	c, ok := notifySockets.Load(ts.MkAbs(args[0]))
	if !ok {
		ts.Fatalf("no notifysocket %s", args[0])
	}
	conn := c.(*net.UnixConn)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			ts.Fatalf("no %q on %s: %v", args[1], args[0], err)
		}
		if strings.Contains(string(buf[:n]), args[1]) {
			return
		}
	}
}

// canBootGuest reports whether the demo guest can boot here: qemu, a
// static busybox and a kernel with modules.
func canBootGuest() bool {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return false
	}
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		return false
	}
	_, _, err := guest.DefaultKernel()
	return err == nil
}

// snapshot DIR: remember DIR's tree for a later `unchanged DIR`.
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: snapshot DIR")
	}
	ts.Setenv("SNAPSHOT_"+envKey(args[0]), treeDigest(ts, args[0]))
}

// unchanged DIR: DIR's tree equals the last snapshot of it: same entries,
// types, modes, file contents and link targets. Lock files do not count:
// they are empty, hold no state, and cannot be removed safely while
// another process may be waiting on them.
func cmdUnchanged(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: unchanged DIR")
	}
	before := ts.Getenv("SNAPSHOT_" + envKey(args[0]))
	if before == "" {
		ts.Fatalf("no snapshot of %s", args[0])
	}
	now := treeDigest(ts, args[0])
	if (now == before) == neg {
		ts.Fatalf("%s changed:\nbefore:\n%s\nnow:\n%s", args[0], decodeTree(before), decodeTree(now))
	}
}

func envKey(p string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, p)
}

// treeDigest describes a tree one entry a line; it is stored in the
// script's environment, so newlines are encoded.
func treeDigest(ts *testscript.TestScript, dir string) string {
	root := ts.MkAbs(dir)
	var lines []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == ".locks" || strings.HasPrefix(rel, ".locks/") {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		line := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			line += " -> " + t
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			line += " " + hex.EncodeToString(sum[:8])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		ts.Fatalf("walking %s: %v", dir, err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "|")
}

func decodeTree(s string) string { return strings.ReplaceAll(s, "|", "\n") }
