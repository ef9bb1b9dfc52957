package cli

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/oci/ocitest"
	"github.com/microvm-host/microvm/internal/source"
)

// initOnce builds microvm-init once per test binary: the scripts' microvm
// is the test binary, with no microvm-init next to it.
var initOnce struct {
	sync.Once
	path string
	err  error
}

// buildinit: build cmd/microvm-init (static) and point $MICROVM_INIT at it.
func cmdBuildInit(ts *testscript.TestScript, neg bool, args []string) {
	initOnce.Do(func() {
		dir, err := os.MkdirTemp("", "microvm-init-")
		if err != nil {
			initOnce.err = err
			return
		}
		initOnce.path = filepath.Join(dir, source.InitName)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", initOnce.path, "../../cmd/microvm-init")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			initOnce.err = &buildError{err, string(out)}
		}
	})
	if initOnce.err != nil {
		ts.Fatalf("building microvm-init: %v", initOnce.err)
	}
	ts.Setenv(source.EnvInit, initOnce.path)
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// ociimage OUT.tar KIND [ARG...]: write a docker-archive of an image made
// of the host's busybox whose entrypoint is ARG... (KIND "run"), or
// whose cmd is ARG... and has no entrypoint (KIND "cmd"); KIND "none"
// has no entrypoint or cmd; "dotdot", "symlink" and "hardlink" run
// ARG... too, but add a layer that escapes the root: an entry named
// ../escaped, an entry below an absolute symlink to $WORK/outside, a hard
// link to ../../etc/shadow.
func cmdOCIImage(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: ociimage OUT.tar KIND [ARG...]")
	}
	entries, err := ocitest.Busybox(guest.DefaultBusybox)
	ts.Check(err)
	base, err := ocitest.Layer(entries...)
	ts.Check(err)
	layers := []v1.Layer{base}
	cfg := v1.Config{Entrypoint: args[2:]}
	evil := map[string][]ocitest.Entry{
		"dotdot": {{Name: "../escaped", Body: "x"}},
		"symlink": {
			{Name: "out", Type: tar.TypeSymlink, Linkname: ts.MkAbs("outside")},
			{Name: "out/escaped", Body: "x"},
		},
		"hardlink": {{Name: "shadow", Type: tar.TypeLink, Linkname: "../../etc/shadow"}},
	}
	switch kind := args[1]; {
	case kind == "run":
	case kind == "cmd":
		cfg = v1.Config{Cmd: args[2:]}
	case kind == "none":
		cfg = v1.Config{}
	case evil[kind] != nil:
		l, err := ocitest.Layer(evil[kind]...)
		ts.Check(err)
		layers = append(layers, l)
	default:
		ts.Fatalf("ociimage: unknown kind %q", kind)
	}
	img, err := ocitest.Image(cfg, layers...)
	ts.Check(err)
	ts.Check(ocitest.WriteArchive(ts.MkAbs(args[0]), "app:test", img))
}

// qmp SOCKET COMMAND: run a QMP command without arguments on a qemu's
// control socket (system_powerdown presses the ACPI power button).
func cmdQMP(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: qmp SOCKET COMMAND")
	}
	c, err := net.DialTimeout("unix", ts.MkAbs(args[0]), 5*time.Second)
	ts.Check(err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	dec := json.NewDecoder(c)
	var msg map[string]any
	ts.Check(dec.Decode(&msg)) // the greeting
	for _, cmd := range []string{"qmp_capabilities", args[1]} {
		_, err := fmt.Fprintf(c, `{"execute": %q}`+"\n", cmd)
		ts.Check(err)
		for {
			msg = nil
			ts.Check(dec.Decode(&msg))
			if _, event := msg["event"]; !event {
				break
			}
		}
		if e, failed := msg["error"]; failed {
			ts.Fatalf("qmp %s: %v", cmd, e)
		}
	}
}
