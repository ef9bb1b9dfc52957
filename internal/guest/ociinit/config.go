package ociinit

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The root disk of an image VM is an ext4 file system holding the
// image's flattened root file system in RootfsDir and the process to run
// in ConfigFile, next to it rather than inside, so the image sees none of
// ours. The host writes it (package oci), the init reads it.
const (
	RootfsDir  = "rootfs"
	ConfigFile = "microvm-image.json"
)

// RootDevice is the disk the init mounts: image VMs get their root disk
// first, so every hypervisor names it vda.
const RootDevice = "/dev/vda"

// MaxConfig bounds the config file the init reads.
const MaxConfig = 1 << 20

// Config is the process the init runs, from the image's config: the
// entrypoint followed by the cmd, with the image's environment, working
// directory, user and stop signal.
type Config struct {
	// Image is the reference the VM was built from and Digest the image
	// config's digest, for messages.
	Image  string   `json:"image"`
	Digest string   `json:"digest"`
	Args   []string `json:"args"`
	Env    []string `json:"env,omitempty"`
	// WorkingDir is absolute; "" means "/".
	WorkingDir string `json:"workingDir,omitempty"`
	// User is the image's USER: "", NAME, UID, NAME:GROUP or UID:GID,
	// resolved in the image's /etc/passwd and /etc/group.
	User string `json:"user,omitempty"`
	// StopSignal is what a power-off request is forwarded to the process
	// as (the image's STOPSIGNAL, e.g. "SIGQUIT" or "3"); "" is SIGTERM.
	StopSignal string `json:"stopSignal,omitempty"`
}

// ParseConfig decodes and checks a config file.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", ConfigFile, err)
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return nil, fmt.Errorf("%s: no process to run (args is empty)", ConfigFile)
	}
	if c.WorkingDir != "" && !strings.HasPrefix(c.WorkingDir, "/") {
		return nil, fmt.Errorf("%s: working directory %q is not absolute", ConfigFile, c.WorkingDir)
	}
	return &c, nil
}

// ExitPrefix starts the line the init writes on the console as its last
// words: "microvm-init: exit status N", N being the process's exit status,
// or 128 plus the signal that killed it, as a shell reports it. The host
// reads it from the console's last lines (ExitStatus).
const ExitPrefix = "microvm-init: exit status "

// ExitLine is the console line for exit status code.
func ExitLine(code int, signal string) string {
	if signal != "" {
		return fmt.Sprintf("%s%d (killed by %s)", ExitPrefix, code, signal)
	}
	return ExitPrefix + strconv.Itoa(code)
}

// ExitStatus finds the process's exit status in the console's last lines:
// the last exit line, if no other line of the init follows it. The init
// writes it after every other process of the guest is gone, so a process
// cannot print one after it; one printed earlier is followed by the
// init's own. It is still the guest's word, not a fact the host checked.
func ExitStatus(lines []string) (code int, ok bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		rest, found := strings.CutPrefix(l, ExitPrefix)
		if !found {
			if strings.HasPrefix(l, "microvm-init: ") {
				return 0, false
			}
			continue
		}
		digits, _, _ := strings.Cut(rest, " ")
		n, err := strconv.Atoi(digits)
		if err != nil || n < 0 || n > 255 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}
