package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the API's own: requests by verb and result, and how long
// they took.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics makes the API's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "microvm", Subsystem: "api", Name: "requests_total",
			Help: "API requests answered, by verb (list, start, stop, restart, metrics, …) and result (ok, bad-request, forbidden, not-found, too-large, busy, error).",
		}, []string{"verb", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "microvm", Subsystem: "api", Name: "request_duration_seconds",
			Help: "Time to answer an API request, by verb; a stop lasts as long as the guest takes to power off.",
			// From a status list to a stop that waits out a guest's
			// 150 s.
			Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 30, 60, 150, 300},
		}, []string{"verb"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// WithMetrics serves GET /metrics from g besides h, open to everyone
// who can connect (like status), and counts every request to either
// with m. The metrics are what the collectors registered with g read
// at that moment.
func WithMetrics(h http.Handler, g prometheus.Gatherer, m *Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", MetricsHandler(g))
	mux.Handle("/", h)
	return m.instrument(mux)
}

// MetricsHandler serves what g gathers in the format the scraper asks
// for: OpenMetrics for Prometheus, the text format for curl. A
// collector's error fails the scrape (500) with its reason, rather than
// a partial answer that would look like VMs vanished.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.HTTPErrorOnError})
}

// instrument counts the requests h serves. The verb is known only after
// the mux routed the request: it sets r.Pattern.
func (m *Metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		verb := verbOf(r.Pattern)
		m.requests.WithLabelValues(verb, resultOf(sw.code)).Inc()
		if verb != "events" { // a stream lasts as long as its reader
			m.duration.WithLabelValues(verb).Observe(time.Since(start).Seconds())
		}
	})
}

// verbOf names a route by its pattern: the verb of POST
// /v1/vms/{name}/VERB, "list" for GET /v1/vms, else the pattern's last
// element ("metrics", "events"); "unknown" for no route.
func verbOf(pattern string) string {
	_, path, _ := strings.Cut(pattern, " ")
	switch path = strings.TrimSuffix(path, "/"); {
	case path == "":
		return "unknown"
	case path == "/v1/vms":
		return "list"
	}
	return path[strings.LastIndexByte(path, '/')+1:]
}

// resultOf words an HTTP status as the API's errors do (statusOf).
func resultOf(code int) string {
	switch {
	case code < 400:
		return "ok"
	case code == http.StatusForbidden:
		return "forbidden"
	case code == http.StatusNotFound:
		return "not-found"
	case code == http.StatusRequestEntityTooLarge:
		return "too-large"
	case code == http.StatusServiceUnavailable:
		return "busy"
	case code < 500:
		return "bad-request"
	}
	return "error"
}

// statusWriter keeps the status of the reply.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush passes on a streaming handler's flush.
func (w *statusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// maxMetrics bounds the metrics the client copies: about 2 KiB per VM.
const maxMetrics = 64 << 20

// Metrics copies the daemon's GET /metrics, in the text format, to w.
func (c *Client) Metrics(ctx context.Context, w io.Writer) error {
	bctx, cancel := context.WithTimeout(ctx, c.statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(bctx, http.MethodGet, "http://microvm/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.failed(ctx, bctx, c.statusTimeout, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return &Error{Code: resp.StatusCode, Message: fmt.Sprintf("the daemon answered GET /metrics with %s: %s", resp.Status, bytes.TrimSpace(b))}
	}
	if _, err := io.Copy(w, io.LimitReader(resp.Body, maxMetrics)); err != nil {
		return c.failed(ctx, bctx, c.statusTimeout, fmt.Errorf("reading the daemon's metrics: %w", err))
	}
	return nil
}
