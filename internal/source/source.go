// Package source turns the SOURCE of `microvm create -f SOURCE` into a
// runner package: a runner directory as it is, or a flake built with nix.
package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/state"
)

// DefaultFlake is microvm.nix's default source for create.
const DefaultFlake = "git+file:///etc/nixos"

// Parse classifies the SOURCE argument of create for the VM name. Paths
// are made absolute, since update later runs from another directory
// (microvm.nix #538 stored relative flake paths that then broke).
func Parse(arg, name string) (state.Source, error) {
	fi, err := os.Stat(arg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && looksLikeFlakeRef(arg) {
			return state.Source{Kind: state.SourceFlake, Ref: arg}, nil
		}
		return state.Source{}, fmt.Errorf("source %q: %w", arg, err)
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return state.Source{}, fmt.Errorf("source %q: %w", arg, err)
	}
	if !fi.IsDir() {
		if strings.HasSuffix(abs, ".toml") {
			return state.Source{Kind: state.SourceSpec, Ref: abs}, nil
		}
		return state.Source{}, fmt.Errorf("source %q: not a directory or a .toml spec file", arg)
	}
	switch {
	case exists(filepath.Join(abs, "bin", "microvm-run")):
		return state.Source{Kind: state.SourceRunner, Ref: abs}, nil
	case exists(filepath.Join(abs, name+".toml")):
		return state.Source{Kind: state.SourceSpec, Ref: filepath.Join(abs, name+".toml")}, nil
	case exists(filepath.Join(abs, "flake.nix")):
		return state.Source{Kind: state.SourceFlake, Ref: abs}, nil
	}
	return state.Source{}, fmt.Errorf("source %q: expected a runner package (bin/microvm-run), a spec file (%s.toml) or a flake (flake.nix); found none", arg, name)
}

// looksLikeFlakeRef accepts flake reference forms that do not name a local
// path: URL-like references (git+file:, github:, path:, …) and registry
// names like nixpkgs.
func looksLikeFlakeRef(s string) bool {
	if strings.Contains(s, "#") || strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return false // a fragment is added by us; paths must exist
	}
	return strings.Contains(s, ":")
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
