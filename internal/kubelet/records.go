package kubelet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/microvm-host/microvm/internal/state"
)

// Record is what the provider keeps of a Pod it accepted, in
// Records' directory as VM.json: written before the VM is created, so
// that a provider killed at any point finds, after a restart, either a
// record for each VM it owns or a VM it can tell is an orphan.
type Record struct {
	Pod  *corev1.Pod `json:"pod"`
	Plan Plan        `json:"plan"`
	// Accepted is when the provider took the Pod: the start of its
	// StartTime.
	Accepted time.Time `json:"accepted"`
}

// Records is the directory of Records: state.KubeletDir in the state
// directory, root's (0700), since a Pod can hold what its namespace's
// readers only may see.
type Records struct{ Dir string }

const recordExt = ".json"

func (r Records) path(vm string) string { return filepath.Join(r.Dir, vm+recordExt) }

// SpecPath is where the spec file of VM's Plan is kept while the VM
// exists: its recorded source, which update rebuilds from.
func (r Records) SpecPath(vm string) string { return filepath.Join(r.Dir, vm+".toml") }

// Put writes rec atomically, with its spec file.
func (r Records) Put(rec Record) error {
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return fmt.Errorf("recording pod %s/%s: %w", rec.Pod.Namespace, rec.Pod.Name, err)
	}
	if rec.Plan.Spec != nil {
		if err := renameio.WriteFile(r.SpecPath(rec.Plan.VM), rec.Plan.Spec, 0o600); err != nil {
			return fmt.Errorf("recording pod %s/%s: %w", rec.Pod.Namespace, rec.Pod.Name, err)
		}
	}
	b, err := json.Marshal(rec)
	if err == nil {
		err = renameio.WriteFile(r.path(rec.Plan.VM), b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("recording pod %s/%s: %w", rec.Pod.Namespace, rec.Pod.Name, err)
	}
	return nil
}

// Delete removes VM's record and spec file; a missing one is no error.
func (r Records) Delete(vm string) error {
	var errs []error
	for _, p := range []string{r.path(vm), r.SpecPath(vm)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Load reads every record. A record that cannot be read is returned as
// an error, joined, and skipped: its VM then counts as an orphan.
func (r Records) Load() ([]Record, error) {
	entries, err := os.ReadDir(r.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pod records: %w", err)
	}
	var recs []Record
	var errs []error
	for _, e := range entries {
		vm, ok := strings.CutSuffix(e.Name(), recordExt)
		if !ok || state.CheckName(vm) != nil {
			continue // renameio's temporary files, spec files
		}
		b, err := os.ReadFile(filepath.Join(r.Dir, e.Name()))
		var rec Record
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err == nil && (rec.Pod == nil || rec.Plan.VM != vm) {
			err = fmt.Errorf("expected the record of VM %q", vm)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("pod record %s: %w", filepath.Join(r.Dir, e.Name()), err))
			continue
		}
		recs = append(recs, rec)
	}
	return recs, errors.Join(errs...)
}
