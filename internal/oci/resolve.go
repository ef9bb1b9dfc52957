package oci

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/oci/imageref"
)

// ErrNoProcess is returned for an image that does not say what to run.
var ErrNoProcess = errors.New("the image has neither an entrypoint nor a cmd")

// Resolved is what a build pins of an image: which image it is and what
// it runs. The host flattens that image at start, whatever the
// reference names by then.
type Resolved struct {
	Ref imageref.Ref
	// Config is the digest of the image's config, which names its layers
	// by the digests of their content: the cache key of its root disk.
	Config string
	// Manifest is the manifest digest of a registry image, pulled at
	// start by digest so that a moved tag changes nothing until the
	// runner is rebuilt; "" for local images.
	Manifest string
	Process  ociinit.Config
	// Entrypoint and Cmd are the image's, whose concatenation is
	// Process.Args, for a spec that replaces one of them (WithProcess).
	Entrypoint, Cmd []string
}

// Resolve reads the image r names: for a registry image its manifest and
// config, for a local one its index and config, not its layers. Errors
// do not repeat the reference.
func Resolve(ctx context.Context, r imageref.Ref) (*Resolved, error) {
	img, err := open(ctx, r, "")
	if err != nil {
		return nil, err
	}
	res := &Resolved{Ref: r}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	res.Config = cfgName.String()
	if r.Transport == imageref.Registry {
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		res.Manifest = d.String()
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	p, err := ProcessOf(cf)
	if err != nil {
		return nil, err
	}
	p.Image, p.Digest = r.String(), res.Config
	res.Process = p
	res.Entrypoint, res.Cmd = cf.Config.Entrypoint, cf.Config.Cmd
	return res, nil
}

// WithProcess is the process of a VM whose spec changes its image's,
// by the rules of a Kubernetes container (and `docker run --entrypoint`):
// command replaces the entrypoint and drops the cmd; args replace the
// cmd; env entries are added, replacing the image's of the same name in
// place; workingDir replaces the image's. What is not set stays the
// image's.
func (r *Resolved) WithProcess(command, args, env []string, workingDir string) (ociinit.Process, error) {
	argv := append([]string(nil), r.Entrypoint...)
	if len(command) > 0 {
		argv = append([]string(nil), command...)
	}
	switch {
	case len(args) > 0:
		argv = append(argv, args...)
	case len(command) == 0:
		argv = append(argv, r.Cmd...)
	}
	p := ociinit.Process{Args: argv, Env: mergeEnv(r.Process.Env, env), WorkingDir: workingDir}
	if err := p.Check(); err != nil {
		return ociinit.Process{}, err
	}
	return p, nil
}

// mergeEnv is base with each NAME=VALUE of add set in it: in the place
// of base's entry of that name, or at the end.
func mergeEnv(base, add []string) []string {
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

// ProcessOf is the process an image runs, from its config: entrypoint
// and cmd, as `docker run` without arguments would.
func ProcessOf(cf *v1.ConfigFile) (ociinit.Config, error) {
	c := cf.Config
	args := append(append([]string(nil), c.Entrypoint...), c.Cmd...)
	if len(args) == 0 || args[0] == "" {
		return ociinit.Config{}, fmt.Errorf("%w; expected an image that says what to run (ENTRYPOINT or CMD in its Dockerfile)", ErrNoProcess)
	}
	if cf.OS != "" && cf.OS != "linux" {
		return ociinit.Config{}, fmt.Errorf("the image is for %q; expected a linux image", cf.OS)
	}
	if want := Platform().Architecture; cf.Architecture != "" && cf.Architecture != want {
		return ociinit.Config{}, fmt.Errorf("the image is for %s; this host boots %s images", cf.Architecture, want)
	}
	p := ociinit.Config{Args: args, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User, StopSignal: c.StopSignal}
	if _, err := ociinit.ParseSignal(p.StopSignal); err != nil {
		return ociinit.Config{}, err
	}
	if p.WorkingDir != "" && p.WorkingDir[0] != '/' {
		return ociinit.Config{}, fmt.Errorf("working directory %q is not absolute", p.WorkingDir)
	}
	return p, nil
}
