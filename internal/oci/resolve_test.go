package oci

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/guest/ociinit"
)

// TestWithProcess: a spec's [process] changes the image's as a
// Kubernetes container's command, args, env and workingDir do.
func TestWithProcess(t *testing.T) {
	r := &Resolved{
		Entrypoint: []string{"/entry", "-x"},
		Cmd:        []string{"serve", "--port=80"},
		Process:    ociinit.Config{Env: []string{"PATH=/bin", "LANG=C", "A=1"}},
	}
	type in struct {
		command, args, env []string
		dir                string
	}
	for _, tc := range []struct {
		name string
		in   in
		want ociinit.Process
	}{
		{"nothing", in{}, ociinit.Process{Args: []string{"/entry", "-x", "serve", "--port=80"}, Env: r.Process.Env}},
		{"args replace the cmd", in{args: []string{"check"}}, ociinit.Process{Args: []string{"/entry", "-x", "check"}, Env: r.Process.Env}},
		{"command drops the cmd", in{command: []string{"sh"}}, ociinit.Process{Args: []string{"sh"}, Env: r.Process.Env}},
		{"command and args", in{command: []string{"sh", "-c"}, args: []string{"echo hi"}}, ociinit.Process{Args: []string{"sh", "-c", "echo hi"}, Env: r.Process.Env}},
		{"env set in place and added", in{env: []string{"LANG=C.UTF-8", "B=2", "A=3"}, dir: "/srv"},
			ociinit.Process{Args: []string{"/entry", "-x", "serve", "--port=80"}, Env: []string{"PATH=/bin", "LANG=C.UTF-8", "A=3", "B=2"}, WorkingDir: "/srv"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.WithProcess(tc.in.command, tc.in.args, tc.in.env, tc.in.dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if r.Process.Env[1] != "LANG=C" {
		t.Errorf("WithProcess changed the image's env: %q", r.Process.Env)
	}
	// An image with only a cmd, and args replacing it with nothing to
	// run: refused as the init would refuse it.
	bare := &Resolved{Cmd: []string{"x"}}
	if _, err := bare.WithProcess(nil, []string{""}, nil, ""); err == nil {
		t.Error("WithProcess accepted an empty program")
	}
}
