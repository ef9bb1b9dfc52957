package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// NewServer is the http.Server of the API with the timeouts and sizes
// of lim; serve it on a LimitListener, whose peers it hands to h through
// the request context. The server's own complaints go to log.
func NewServer(h http.Handler, lim Limits, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           guard(h, lim),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ConnContext:       ConnContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// No ReadTimeout or WriteTimeout: both would run through the
		// handler, and a stop may take minutes (and a read deadline that
		// fires cancels the request's context). guard bounds the body
		// and the reply instead.
	}
}

// guard refuses bodies over lim.MaxBodyBytes and reads smaller ones
// within lim.ReadHeaderTimeout, then bounds writing the reply by
// lim.WriteTimeout from when it starts.
func guard(h http.Handler, lim Limits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 { // a body, of known size or chunked (-1)
			// The deadline stays when the body does not arrive or is
			// too large: the server then discards the rest of it, and
			// without a deadline a client that never sends it would
			// hold the connection.
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Now().Add(lim.ReadHeaderTimeout))
			if r.ContentLength > lim.MaxBodyBytes {
				w.Header().Set("Connection", "close")
				reply(w, nil, tooLarge(lim))
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, lim.MaxBodyBytes))
			if err != nil {
				w.Header().Set("Connection", "close")
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					reply(w, nil, tooLarge(lim))
				} else {
					reply(w, nil, &kindError{ErrBadRequest, fmt.Sprintf("reading the request body: %v", err)})
				}
				return
			}
			rc.SetReadDeadline(time.Time{})
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(&replyDeadline{ResponseWriter: w, d: lim.WriteTimeout}, r)
	})
}

func tooLarge(lim Limits) error {
	return &kindError{ErrTooLarge, fmt.Sprintf("request body over %d bytes", lim.MaxBodyBytes)}
}

// replyDeadline sets the connection's write deadline when the handler
// starts its reply.
type replyDeadline struct {
	http.ResponseWriter
	d     time.Duration
	armed bool
}

func (w *replyDeadline) arm() {
	if !w.armed && w.d > 0 {
		w.armed = true
		http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(w.d))
	}
}

func (w *replyDeadline) WriteHeader(code int) { w.arm(); w.ResponseWriter.WriteHeader(code) }

func (w *replyDeadline) Write(b []byte) (int, error) { w.arm(); return w.ResponseWriter.Write(b) }

// Unwrap lets http.ResponseController reach the connection.
func (w *replyDeadline) Unwrap() http.ResponseWriter { return w.ResponseWriter }
