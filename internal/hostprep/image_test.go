package hostprep

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/guest/ociinit"
	"github.com/microvm-host/microvm/internal/spec"
)

// TestVMProcess: the process file of a VM with a [process] table comes
// from the spec read at start and the image's entrypoint and cmd that
// build recorded; a spec whose table changed, lost it, or that the VM
// user could change, is refused.
func TestVMProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the spec is chowned to the VM user")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "vm.toml")
	write := func(process string) {
		must(t, os.WriteFile(path, []byte("image = \"docker-archive:app.tar\"\n"+process), 0o600))
	}
	table := "[process]\nargs = [\"--port=8080\"]\nenv = [\"TOKEN=s3cret\"]\nworkingDir = \"/srv\"\n"
	write(table)
	s, err := spec.Parse(path)
	must(t, err)
	b := generate.Build{Spec: path, Image: &generate.Image{
		Entrypoint: []string{"/app"}, Cmd: []string{"--port=80"}, ProcessSHA256: generate.ProcessHash(s.Process),
	}}
	p := &Prep{ID: Identity{User: "nobody", Group: "nogroup", UID: vmUID, GID: vmUID, Switch: true}}

	data, err := p.vmProcess("vm", b)
	must(t, err)
	var got ociinit.Process
	must(t, json.Unmarshal(data, &got))
	want := ociinit.Process{Args: []string{"/app", "--port=8080"}, Env: []string{"TOKEN=s3cret"}, WorkingDir: "/srv"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("process (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name, process, want string
		vmOwned             bool
	}{
		{"changed", strings.Replace(table, "s3cret", "other", 1), "changed since the runner was built", false},
		{"gone", "", "has no [process] any more", false},
		{"the VM user's", table, "not reading the spec as root", true},
	} {
		write(tc.process)
		if tc.vmOwned {
			must(t, os.Chown(path, vmUID, vmUID))
		}
		_, err := p.vmProcess("vm", b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		}
		if !tc.vmOwned && !strings.Contains(err.Error(), "microvm update vm") {
			t.Errorf("%s: %v; want the fix", tc.name, err)
		}
		must(t, os.Chown(path, 0, 0))
	}
}
