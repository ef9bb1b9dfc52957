package oci

import (
	"context"
	"errors"
	"fmt"

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
	// Process.Args, for a spec that replaces one of them
	// (ociinit.Argv).
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
