package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/microvm-host/microvm/internal/trust"
)

// Source kinds: what update rebuilds a VM from.
const (
	SourceRunner = "runner" // a runner package directory, re-imported
	SourceFlake  = "flake"  // a flake reference, built with nix
	SourceSpec   = "spec"   // a spec file, built with microvm build
)

// Source records where a VM's runner comes from. Flake sources are stored
// in microvm.nix's `flake` file so either host can update the VM; other
// kinds, which microvm.nix does not know, go to SourceFile.
type Source struct {
	Kind string `json:"kind"`
	Ref  string `json:"ref"` // absolute path, or the flake reference
}

func (s Source) String() string { return s.Kind + " " + s.Ref }

// ErrNoSource is returned for a VM without a recorded source.
var ErrNoSource = errors.New("no source recorded")

// WriteSource records src in vmDir, replacing any earlier record.
func WriteSource(vmDir string, src Source) error {
	var err error
	if src.Kind == SourceFlake {
		err = renameio.WriteFile(filepath.Join(vmDir, FlakeFile), []byte(src.Ref), 0o644)
		if err == nil {
			err = removeIfExists(filepath.Join(vmDir, SourceFile))
		}
	} else {
		var b []byte
		b, err = json.MarshalIndent(src, "", "  ")
		if err == nil {
			err = renameio.WriteFile(filepath.Join(vmDir, SourceFile), append(b, '\n'), 0o644)
		}
		if err == nil {
			err = removeIfExists(filepath.Join(vmDir, FlakeFile))
		}
	}
	if err != nil {
		return fmt.Errorf("recording source of %q: %w", filepath.Base(vmDir), err)
	}
	return nil
}

// ReadSource returns the source recorded in vmDir, or ErrNoSource. Only
// records microvm wrote count: the VM user can create files in vmDir, and
// a source it planted would make root build and run its runner. Such a
// record is an error matching trust.ErrUntrusted, and counts as absent
// when the other kind of record is root's.
func ReadSource(vmDir string) (Source, error) {
	src, forged, err := readSource(vmDir)
	if err == nil && src.Kind == "" {
		if forged != nil {
			return Source{}, forged
		}
		return Source{}, ErrNoSource
	}
	return src, err
}

// readSource returns the source root recorded (Kind "" when none), and
// the record it ignored because root did not write it.
func readSource(vmDir string) (src Source, forged, err error) {
	b, err := trust.ReadFile(filepath.Join(vmDir, FlakeFile))
	if errors.Is(err, trust.ErrUntrusted) {
		forged, err = err, os.ErrNotExist
	}
	if err == nil {
		// microvm.nix writes it with or without a trailing newline.
		ref := string(bytes.TrimSpace(b))
		if ref == "" {
			return Source{}, nil, fmt.Errorf("%s: empty; expected a flake reference", filepath.Join(vmDir, FlakeFile))
		}
		return Source{Kind: SourceFlake, Ref: ref}, nil, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return Source{}, nil, err
	}
	p := filepath.Join(vmDir, SourceFile)
	b, err = trust.ReadFile(p)
	switch {
	case trust.IsNotExist(err):
		return Source{}, forged, nil
	case errors.Is(err, trust.ErrUntrusted):
		return Source{}, errors.Join(forged, err), nil
	case err != nil:
		return Source{}, forged, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&src); err != nil {
		return Source{}, forged, fmt.Errorf("%s: %w; expected {\"kind\": ..., \"ref\": ...}", p, err)
	}
	switch src.Kind {
	case SourceRunner, SourceSpec:
		if !filepath.IsAbs(src.Ref) {
			return Source{}, forged, fmt.Errorf("%s: ref %q is not an absolute path", p, src.Ref)
		}
	case SourceFlake:
	default:
		return Source{}, forged, fmt.Errorf("%s: unknown source kind %q; expected %q, %q or %q", p, src.Kind, SourceRunner, SourceSpec, SourceFlake)
	}
	return src, forged, nil
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
