package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// installed is a runner ready to be linked from a VM directory.
type installed struct {
	runner  string // path to link to: a Nix store path or a state store entry
	release func() // called once the link is in place (see state.Dir.Import)
}

// install builds the runner for name from src in workDir, validates it
// and puts it into the state store unless Nix already keeps it.
func install(ctx context.Context, e *env, d *state.Dir, src state.Source, name, workDir string) (installed, error) {
	if err := e.checkSource(src); err != nil {
		return installed{}, err
	}
	dir, err := e.builder.Build(ctx, src, name, workDir)
	if err != nil {
		return installed{}, err
	}
	// What the build left in workDir (nix's result link, a generated
	// runner) is only needed until the runner is in the store.
	defer os.Remove(filepath.Join(workDir, "result"))
	defer os.RemoveAll(filepath.Join(workDir, "runner"))
	r, err := runner.Load(dir)
	if err != nil {
		return installed{}, invalidRunner(dir, err)
	}
	if err := r.CheckPaths(d.VMPath(name)); err != nil {
		return installed{}, fmt.Errorf("runner %s: %w", dir, err)
	}
	if state.InNixStore(dir) {
		return installed{runner: dir, release: func() {}}, nil
	}
	path, release, err := d.Import(ctx, dir)
	if err != nil {
		return installed{}, err
	}
	return installed{runner: path, release: release}, nil
}

// invalidRunner formats all of a runner's validation errors, one a line,
// each naming the file and line.
func invalidRunner(dir string, err error) error {
	var lines []string
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			var re *runner.Error
			if errors.As(e, &re) && re.Path != "" {
				lines = append(lines, "  "+dir+"/"+e.Error())
			} else {
				lines = append(lines, "  "+e.Error())
			}
		}
	} else {
		lines = append(lines, "  "+err.Error())
	}
	return fmt.Errorf("invalid runner package %s:\n%s", dir, strings.Join(lines, "\n"))
}

// checkSource refuses, as root, a source the VM user could change
// (source.CheckTrusted).
func (e *env) checkSource(src state.Source) error {
	if os.Geteuid() != 0 {
		return nil
	}
	id, err := e.identity()
	if err != nil {
		return err
	}
	return source.CheckTrusted(src, id.VMUser())
}
