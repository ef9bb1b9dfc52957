package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/vishvananda/netns"
)

// promquery ADDR QUERY: wait (up to 120 s) until the Prometheus at ADDR
// (host:port, in the network namespace $NS when set) answers the PromQL
// QUERY with a non-empty vector, through its HTTP API (/api/v1/query).
// The query says what must hold ("… > 0"); the answer is logged.
func cmdPromQuery(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: promquery ADDR QUERY")
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dialIn(ts.Getenv("NS"), network, addr)
		},
	}}
	u := "http://" + args[0] + "/api/v1/query?" + url.Values{"query": {args[1]}}.Encode()
	var last string
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		resp, err := client.Get(u)
		if err != nil {
			last = err.Error()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Status != "success" {
			ts.Fatalf("query %q: %s %s", args[1], resp.Status, b) // a bad query does not get better
		}
		last = string(b)
		if len(r.Data.Result) > 0 {
			ts.Logf("%s: %s", args[1], b)
			return
		}
	}
	ts.Fatalf("query %q: no result within 120 s; last answer: %s", args[1], last)
}

// dialIn connects in the network namespace ns ("" for this one): the
// socket belongs to the namespace it is made in, and is used from any
// thread after.
func dialIn(ns, network, addr string) (net.Conn, error) {
	if ns == "" {
		return net.Dial(network, addr)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	h, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("network namespace %q: %w", ns, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return nil, err
	}
	defer netns.Set(orig)
	return net.Dial(network, addr)
}
