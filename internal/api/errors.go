package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// Errors of the API, on both sides: the server maps them to a status
// (statusOf), the client maps the status back (Error.Is), so callers
// branch with errors.Is either way.
var (
	ErrBadRequest = errors.New("bad request")                           // 400
	ErrForbidden  = errors.New("forbidden")                             // 403
	ErrTooLarge   = errors.New("request too large")                     // 413
	ErrBusy       = errors.New("the daemon is at its connection limit") // 503
)

// ErrInvalidName is the bad request of a name state.CheckName refuses.
var ErrInvalidName = fmt.Errorf("%w: invalid VM name", ErrBadRequest)

// ErrUnknownVM (404) is the supervisor's.
var ErrUnknownVM = supervisor.ErrUnknownVM

// kindError is an error of one of the kinds above with a message of its
// own (the kind's name would only repeat it).
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// statusOf is the HTTP status of an error of the daemon.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, supervisor.ErrUnknownVM), errors.Is(err, state.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// kindOf is the error kind of an HTTP status, for the client.
func kindOf(code int) error {
	switch code {
	case http.StatusBadRequest:
		return ErrBadRequest
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrUnknownVM
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	case http.StatusServiceUnavailable:
		return ErrBusy
	}
	return nil
}
