package systemdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Command is args run inside the container: in all its namespaces
// (`nsenter -t LEADER -a`), as root, with a clean environment.
func (c *Container) Command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string{"-t", strconv.Itoa(c.Leader()), "-a", "--"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	cmd.Env = cleanEnv()
	cmd.Dir = "/"
	return cmd
}

// Run runs args inside the container and returns its output (stdout and
// stderr). The error names the command and holds its output.
func (c *Container) Run(ctx context.Context, args ...string) (string, error) {
	out, err := c.Command(ctx, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// WriteFile writes a file inside the container, creating its directories.
func (c *Container) WriteFile(path string, data []byte, mode os.FileMode) error {
	p := c.Path(path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	// WriteFile's mode is filtered by the umask.
	return os.Chmod(p, mode)
}

// Unavailable says why the tier cannot run here, or "" when it can: it
// needs root, systemd-nspawn (Debian: systemd-container), nsenter and
// setpriv (util-linux), and a systemd to boot.
func Unavailable() string {
	if os.Geteuid() != 0 {
		return "the systemd tier needs root (systemd-nspawn, mounts)"
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("the systemd tier needs %s (Debian: systemd-container, util-linux; scripts/install-deps.sh)", tool)
		}
	}
	for _, f := range []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"} {
		if _, err := os.Stat(f); err == nil {
			return ""
		}
	}
	return "the systemd tier needs systemd installed on the host's root (it boots that root in a container)"
}
