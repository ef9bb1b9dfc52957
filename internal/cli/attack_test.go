package cli

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rogpeppe/go-internal/testscript"
)

// The security scripts (testdata/script/attack_*.txtar) play the VM user
// of SECURITY.md's threat model: a real unprivileged uid (nobody, 65534,
// with its group nogroup) running commands through `asvm`, against a
// microvm running as root. Races are loops bounded in time.

// attackerMain is the `attacker` program of the scripts, run as the VM
// user. `attacker exchange DIR NAME DECOY DURATION` swaps DIR/NAME and
// DIR/DECOY with renameat2(RENAME_EXCHANGE) as fast as it can for
// DURATION (or until SIGINT or SIGTERM), whenever both exist: a socket root just
// bound and a link to something root-only, say. It prints how often the
// kernel let it.
func attackerMain() {
	if len(os.Args) != 6 || os.Args[1] != "exchange" {
		fmt.Fprintln(os.Stderr, "usage: attacker exchange DIR NAME DECOY DURATION")
		os.Exit(2)
	}
	d, err := time.ParseDuration(os.Args[5])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir, err := unix.Open(os.Args[2], unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "attacker:", err)
		os.Exit(1)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	var swapped, refused int
	for end := time.Now().Add(d); time.Now().Before(end) && len(term) == 0; {
		switch err := unix.Renameat2(dir, os.Args[3], dir, os.Args[4], unix.RENAME_EXCHANGE); err {
		case nil:
			swapped++
		case unix.EPERM, unix.EACCES:
			refused++
		}
	}
	fmt.Printf("swapped %d times, refused %d times\n", swapped, refused)
}

// vmUID is the VM user of the security scripts.
const vmUID = 65534

// cmdAsVM runs a command as the VM user and waits for it: `asvm PROG
// ARGS...` (`! asvm …` when the VM user must fail). Background attackers
// use `exec setpriv … &name&` directly.
func cmdAsVM(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: asvm PROG ARGS...")
	}
	uid := strconv.Itoa(vmUID)
	argv := append([]string{"setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--"}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(os.Environ(), "WORK="+ts.Getenv("WORK"), "HOME=/nonexistent")
	out, err := cmd.CombinedOutput()
	ts.Logf("[asvm %v]\n%s", args, out)
	if (err != nil) != neg {
		if neg {
			ts.Fatalf("asvm %v succeeded as the VM user", args)
		}
		ts.Fatalf("asvm %v: %v", args, err)
	}
}

// openToVMUser lets the VM user reach the scripts' programs and $WORK:
// testscript keeps them in directories only root may enter.
func openToVMUser(env *testscript.Env) error {
	if os.Geteuid() != 0 {
		return nil
	}
	bin, err := exec.LookPath("attacker")
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), env.WorkDir, filepath.Dir(env.WorkDir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}
