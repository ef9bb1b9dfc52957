package spec

import (
	"errors"
	"fmt"

	"github.com/microvm-host/microvm/internal/tomlfile"
)

// Error is one problem with a spec, located as precisely as known so the
// user can jump to it: "vm.toml:7:1: interfaces[0].mac: …". Validate and
// hypervisor checks fill only Path and Err; Parse adds File, Line and Col
// from where the option is written.
type Error = tomlfile.Error

// errorList collects Errors in the order the checks run, which follows the
// order of the options in Spec, so output is deterministic.
type errorList []error

// add records a problem with the option at path.
func (l *errorList) add(path, format string, args ...any) {
	*l = append(*l, &Error{Path: path, Err: fmt.Errorf(format, args...)})
}

// check records err, if any, as a problem with the option at path.
func (l *errorList) check(path string, err error) {
	if err != nil {
		*l = append(*l, &Error{Path: path, Err: err})
	}
}

func (l errorList) join() error { return errors.Join(l...) }

// split undoes errors.Join, so Parse can locate each problem.
func split(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
