package hostprep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/microvm-host/microvm/internal/hostconfig"
)

// InitModules are the kernel modules VMs need: taps, vhost-net, VFIO.
var InitModules = []string{"tun", "vhost_net", "vfio-pci"}

// Init prepares a host once, idempotently: the VM user and group, the
// kernel modules, and the state directory, root:GROUP 0755. Unlike
// microvm.nix (g+w), the VM group cannot write the state directory
// itself, only the VM directories (which create makes root:GROUP 0775):
// the store and the locks stay root's. It says what it found and did on out;
// with dryRun it only says what it would do. Missing modules are
// warnings: a kernel may have them built in, or not need them.
func Init(ctx context.Context, c *hostconfig.Config, stateDir string, dryRun bool, out io.Writer) error {
	if os.Geteuid() != 0 && !dryRun {
		return errors.New("host init needs root (it creates a user and loads modules); try --dry-run")
	}
	do := func(what string, argv ...string) error {
		if dryRun {
			fmt.Fprintf(out, "would run: %s\n", strings.Join(argv, " "))
			return nil
		}
		var buf bytes.Buffer
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %s: %w: %s", what, strings.Join(argv, " "), err, strings.TrimSpace(buf.String()))
		}
		fmt.Fprintf(out, "%s: done\n", what)
		return nil
	}

	if g, err := user.LookupGroup(c.Group); err == nil {
		fmt.Fprintf(out, "group %s: exists (gid %s)\n", c.Group, g.Gid)
	} else if err := do("group "+c.Group, "groupadd", "--system", c.Group); err != nil {
		return err
	}
	if u, err := user.Lookup(c.User); err == nil {
		fmt.Fprintf(out, "user %s: exists (uid %s)\n", c.User, u.Uid)
	} else if err := do("user "+c.User, "useradd", "--system", "--gid", c.Group, "--no-create-home",
		"--home-dir", stateDir, "--shell", "/usr/sbin/nologin", c.User); err != nil {
		return err
	}

	for _, m := range InitModules {
		if _, err := os.Stat("/sys/module/" + strings.ReplaceAll(m, "-", "_")); err == nil {
			fmt.Fprintf(out, "module %s: loaded\n", m)
			continue
		}
		if err := do("module "+m, "modprobe", m); err != nil {
			fmt.Fprintf(out, "warning: %v\n", err)
		}
	}

	if dryRun {
		fmt.Fprintf(out, "would create %s as root:%s 0755\n", stateDir, c.Group)
	} else {
		g, err := user.LookupGroup(c.Group)
		if err != nil {
			return err
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		if err := os.Chown(stateDir, 0, gid); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		if err := os.Chmod(stateDir, 0o755); err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		fmt.Fprintf(out, "state directory %s: root:%s 0755\n", stateDir, c.Group)
	}

	for _, dev := range []string{"/dev/kvm", "/dev/net/tun", "/dev/vhost-net"} {
		fi, err := os.Stat(dev)
		if err != nil {
			fmt.Fprintf(out, "warning: %s: %v\n", dev, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		fmt.Fprintf(out, "%s: present (mode %v, gid %d)\n", dev, fi.Mode().Perm(), st.Gid)
	}
	fmt.Fprintln(out, "memlock: microvm gives hypervisors MEMLOCK=unlimited itself; units get LimitMEMLOCK=infinity")
	return nil
}
