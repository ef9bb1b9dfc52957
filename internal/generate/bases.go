package generate

import (
	"errors"
	"fmt"

	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/volume"
)

// checkBases refuses, at build, volume bases that are missing or not a
// raw or sound qcow2 image, naming the option: found at the VM's first
// start instead, the mistake would surface in a console log.
func checkBases(s *spec.Spec) error {
	var errs []error
	for i, v := range s.Volumes {
		if v.Base == "" {
			continue
		}
		if _, err := volume.Probe(v.Base); err != nil {
			errs = append(errs, &spec.Error{Path: fmt.Sprintf("volumes[%d].base", i), Err: fmt.Errorf("%q: %w", v.Base, err)})
		}
	}
	return errors.Join(errs...)
}
