package runner

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a runner package. Load returns all of them
// joined with errors.Join, so callers can show every problem at once.
type Error struct {
	Path string // relative to the runner directory; "" for the directory itself
	Line int    // 1-based; 0 when the problem is about the whole file
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Path == "":
		return e.Msg
	case e.Line == 0:
		return e.Path + ": " + e.Msg
	default:
		return e.Path + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	}
}

// FirstError returns the first *Error in err's tree, or nil, for callers
// that have room to show only one problem.
func FirstError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// problems collects errors for one Load, dropping exact repeats: a broken
// or escaping symlink is met both when walking the package and when
// reading a file through it.
type problems struct {
	errs []error
	seen map[Error]bool
}

func (p *problems) add(path string, line int, msg string) {
	e := Error{Path: path, Line: line, Msg: msg}
	if p.seen[e] {
		return
	}
	if p.seen == nil {
		p.seen = make(map[Error]bool)
	}
	p.seen[e] = true
	p.errs = append(p.errs, &e)
}

// err returns the problems sorted by file, then line, so output does not
// depend on the order of the checks; problems on one line keep it.
func (p *problems) err() error {
	slices.SortStableFunc(p.errs, func(a, b error) int {
		ea, eb := a.(*Error), b.(*Error)
		return cmp.Or(strings.Compare(ea.Path, eb.Path), cmp.Compare(ea.Line, eb.Line))
	})
	return errors.Join(p.errs...)
}
