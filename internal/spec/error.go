package spec

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

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

// byLine sorts located errors by line and column, as a compiler reports
// them, whatever order the checks ran in; problems without a line (a
// missing option) come first. The sort is stable, so output stays
// deterministic.
func (l errorList) byLine() errorList {
	pos := func(err error) (int, int) {
		if e, ok := err.(*Error); ok {
			return e.Line, e.Col
		}
		return 0, 0
	}
	slices.SortStableFunc(l, func(a, b error) int {
		la, ca := pos(a)
		lb, cb := pos(b)
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(ca, cb))
	})
	return l
}

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
