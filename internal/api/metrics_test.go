package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsRoute: GET /metrics serves the registry, for any peer that
// can connect; every request, the scrape included, is counted by verb
// and result.
func TestMetricsRoute(t *testing.T) {
	log, _ := newTestLog()
	acc, err := NewAccess("nobody-here", "", "/proc")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := WithMetrics(Handler(&fakeDaemon{known: map[string]bool{"web": true}}, acc, log), reg, m)
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get("GET", "/v1/vms")
	get("GET", "/v1/vms")
	get("POST", "/v1/vms/web/start") // over TCP: no peer credentials, so forbidden
	get("GET", "/nowhere")
	code, body := get("GET", "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`microvm_api_requests_total{result="ok",verb="list"} 2`,
		`microvm_api_requests_total{result="forbidden",verb="start"} 1`,
		`microvm_api_requests_total{result="not-found",verb="unknown"} 1`,
		`microvm_api_request_duration_seconds_count{verb="list"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, body)
		}
	}
	// The scrape itself is counted once it is answered.
	if _, body := get("GET", "/metrics"); !strings.Contains(body, `microvm_api_requests_total{result="ok",verb="metrics"} 1`) {
		t.Errorf("the first scrape is not counted:\n%s", body)
	}
}

func TestVerbOf(t *testing.T) {
	for pattern, want := range map[string]string{
		"GET /v1/vms":              "list",
		"POST /v1/vms/{name}/stop": "stop",
		"GET /metrics":             "metrics",
		"GET /v1/events":           "events",
		"/":                        "unknown",
		"":                         "unknown",
	} {
		if got := verbOf(pattern); got != want {
			t.Errorf("verbOf(%q) = %q; want %q", pattern, got, want)
		}
	}
}
