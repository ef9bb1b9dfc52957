package ociinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// ProcessFile is where one VM's process, when its spec changes the
// image's (a [process] table, a Pod's command, args, env or workingDir),
// is in the initramfs. The image's root disk, and with it ConfigFile, is
// shared by every VM of the image; this file is not: the host appends it
// to the VM's own copy of the initramfs (guest.AppendFiles) at each
// start. It can hold secrets (a Pod's env from a Secret), so it is never
// in the runner package, which everyone can read.
const ProcessFile = "etc/microvm-process.json"

// Process is what ProcessFile holds. Args, when set, replace the image's
// (Argv made them); Env entries are added to the image's environment
// (MergeEnv); WorkingDir, when set, replaces the image's. The user and
// the stop signal stay the image's.
type Process struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	// WorkingDir is absolute; "" means the image's.
	WorkingDir string `json:"workingDir,omitempty"`
}

// Argv is the program and arguments of an image VM whose image has
// entrypoint and cmd, changed by a spec's command and args by the rules of
// a Kubernetes container (and `docker run --entrypoint`): command
// replaces the entrypoint and drops the cmd; args replace the cmd.
func Argv(entrypoint, cmd, command, args []string) []string {
	argv := append([]string(nil), entrypoint...)
	if len(command) > 0 {
		argv = append([]string(nil), command...)
	}
	switch {
	case len(args) > 0:
		argv = append(argv, args...)
	case len(command) == 0:
		argv = append(argv, cmd...)
	}
	return argv
}

// MergeEnv is base with each NAME=VALUE of add set in it: in the place of
// base's entry of that name, or at the end.
func MergeEnv(base, add []string) []string {
	out := append([]string(nil), base...)
	at := map[string]int{}
	for i, e := range out {
		k, _, _ := strings.Cut(e, "=")
		at[k] = i
	}
	for _, e := range add {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := at[k]; ok {
			out[i] = e
			continue
		}
		at[k] = len(out)
		out = append(out, e)
	}
	return out
}

// Check refuses a process the init could not run as it is written.
func (p *Process) Check() error {
	if len(p.Args) == 0 || p.Args[0] == "" {
		return errors.New("no program to run: the first argument is missing or empty")
	}
	if p.WorkingDir != "" && !strings.HasPrefix(p.WorkingDir, "/") {
		return fmt.Errorf("working directory %q is not absolute", p.WorkingDir)
	}
	for _, s := range append(append([]string(nil), p.Args...), p.Env...) {
		if strings.IndexByte(s, 0) >= 0 {
			return fmt.Errorf("%q contains a NUL byte, which no process argument or variable can hold", s)
		}
	}
	for _, e := range p.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("environment entry %q: expected NAME=VALUE", e)
		}
	}
	return nil
}

// Apply changes c's args, environment and working directory as p says.
func (p *Process) Apply(c *Config) {
	c.Args = p.Args
	c.Env = MergeEnv(c.Env, p.Env)
	if p.WorkingDir != "" {
		c.WorkingDir = p.WorkingDir
	}
}

// readProcess reads ProcessFile below root; nil without one, as for VMs
// that run their image's process unchanged.
func readProcess(root string) (*Process, error) {
	f, err := os.Open(root + "/" + ProcessFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfig+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxConfig {
		return nil, fmt.Errorf("%s: larger than %d bytes", ProcessFile, MaxConfig)
	}
	var p Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", ProcessFile, err)
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ProcessFile, err)
	}
	return &p, nil
}
