package runner

import (
	"strings"
	"testing"
)

// vmDirOfLen returns an absolute directory whose join with "/"+sock is n bytes.
func vmDirOfLen(n int, sock string) string {
	dir := "/var/lib/microvms/"
	return dir + strings.Repeat("v", n-len(dir)-1-len(sock))
}

func TestCheckPaths(t *testing.T) {
	const sock = "vm-virtiofs-data.sock"
	r := &Runner{Shares: []Share{
		{Tag: "abs", Source: "/srv/abs", Socket: "/run/abs.sock"},
		{Tag: "data", Source: "data", Socket: sock},
	}}

	ok := vmDirOfLen(MaxSocketPath, sock)
	if got := r.SocketPath(ok, r.Shares[1]); len(got) != MaxSocketPath {
		t.Fatalf("test setup: socket path is %d bytes, want %d", len(got), MaxSocketPath)
	}
	if err := r.CheckPaths(ok); err != nil {
		t.Errorf("CheckPaths with a %d-byte socket path: %v", MaxSocketPath, err)
	}

	long := vmDirOfLen(MaxSocketPath+1, sock)
	err := r.CheckPaths(long)
	if err == nil {
		t.Fatalf("CheckPaths with a %d-byte socket path succeeded", MaxSocketPath+1)
	}
	for _, want := range []string{
		"share/microvm/virtiofs/data/socket:1:",
		`virtiofs share "data"`,
		long + "/" + sock,
		"is 108 bytes; expected at most 107",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `"abs"`) {
		t.Errorf("absolute socket was resolved against vmDir: %v", err)
	}
	if FirstError(err) == nil {
		t.Errorf("CheckPaths error %v holds no *Error", err)
	}
}

func TestSharePaths(t *testing.T) {
	r := &Runner{}
	for _, c := range []struct {
		s           Share
		socket, src string
	}{
		{Share{Socket: "vm.sock", Source: "data"}, "/var/lib/microvms/vm/vm.sock", "/var/lib/microvms/vm/data"},
		{Share{Socket: "./run/../vm.sock", Source: "./data/"}, "/var/lib/microvms/vm/vm.sock", "/var/lib/microvms/vm/data"},
		{Share{Socket: "/run/vm.sock", Source: "/srv/data"}, "/run/vm.sock", "/srv/data"},
	} {
		if got := r.SocketPath("/var/lib/microvms/vm", c.s); got != c.socket {
			t.Errorf("SocketPath(%q) = %q, want %q", c.s.Socket, got, c.socket)
		}
		if got := r.SourcePath("/var/lib/microvms/vm", c.s); got != c.src {
			t.Errorf("SourcePath(%q) = %q, want %q", c.s.Source, got, c.src)
		}
	}
}
