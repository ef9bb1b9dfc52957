package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServerTimeouts: every way of holding a connection without doing
// one's part ends with the daemon closing it and taking its slot back.
func TestServerTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, c net.Conn)
	}{
		{"silent", func(t *testing.T, c net.Conn) {}},
		{"half a request", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "GET /v1/vms HTTP/1.1\r\nHost: microvm\r\n")
		}},
		{"half a body", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "POST /v1/vms/web/stop HTTP/1.1\r\nHost: microvm\r\nContent-Length: 100\r\n\r\n{")
		}},
		{"a large body announced, never sent", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "POST /v1/vms/web/stop HTTP/1.1\r\nHost: microvm\r\nContent-Length: 100000\r\n\r\n")
		}},
		{"a chunked body, never ended", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "POST /v1/vms/web/stop HTTP/1.1\r\nHost: microvm\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
		}},
		{"idle after a request", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "GET /v1/vms HTTP/1.1\r\nHost: microvm\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		}},
		{"never reading a large reply", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "GET /v1/vms HTTP/1.1\r\nHost: microvm\r\n\r\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &fakeDaemon{}
			if tc.name == "never reading a large reply" {
				d.many = 20000 // ~3 MB of JSON, far more than the socket buffers
			}
			dir, ln := serve(t, d, &Access{}, testLimits())
			c, err := net.Dial("unix", filepath.Join(dir, SocketName))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			uid := uint32(os.Geteuid())
			eventually(t, "admitted", func() bool { return ln.Open(uid) == 1 })
			tc.do(t, c)
			eventually(t, "closed by the daemon", func() bool { return ln.Open(uid) == 0 })
			if tc.name != "never reading a large reply" {
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				if _, err := io.Copy(io.Discard, c); err != nil {
					t.Fatalf("reading until the daemon closes: %v", err)
				}
			}
		})
	}
}
