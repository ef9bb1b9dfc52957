package generate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/cloudhypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/crosvm"
	"github.com/microvm-host/microvm/internal/runner"
)

// chRunner builds a cloud-hypervisor runner with a writable volume on a
// host whose cloud-hypervisor reported version, and writes it to a
// directory.
func chRunner(t *testing.T, version string) string {
	t.Helper()
	s, path := parse(t, "hypervisor = \"cloud-hypervisor\"\n[[volumes]]\nimage = \"data.img\"\nsize = 16\n")
	f := facts
	f.Binary, f.Version = "/opt/ch/cloud-hypervisor", version
	p, err := Runner(context.Background(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: cloudhypervisor.Generator{}, Facts: f})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "runner")
	if err := runner.Write(dir, p); err != nil {
		t.Fatal(err)
	}
	return dir
}

// installed is a VersionProbe reporting version for the binary the runner
// records.
func installed(t *testing.T, version string, err error) VersionProbe {
	return func(name, binary string) (string, error) {
		if name != "cloud-hypervisor" || binary != "/opt/ch/cloud-hypervisor" {
			t.Errorf("probed %s at %q", name, binary)
		}
		return version, err
	}
}

func TestCheckInstalled(t *testing.T) {
	made501 := chRunner(t, "50.1")    // image_type=raw: 50.1 or later
	made500 := chRunner(t, "v50.0.0") // no image_type: before 50.1
	for _, tc := range []struct {
		name      string
		dir       string
		version   string
		probeErr  error
		warning   string // substring; "" none
		errSubstr string // "" no error
	}{
		{"same release", made501, "cloud-hypervisor v50.1", nil, "", ""},
		{"newer, still checked", made501, "cloud-hypervisor v53.0-246-gae44c2971", nil, "", ""},
		{"patch of the newest", made501, "cloud-hypervisor v53.0.2", nil, "", ""},
		{"newer than checked", made501, "cloud-hypervisor v54.0", nil, "newer than 53.0.0, the newest release this generator was checked against", ""},
		{"downgraded below image_type", made501, "cloud-hypervisor v50.0", nil, "", "is 50.0.0, but this runner was made for cloud-hypervisor 50.1.0 and works with 50.1.0 or later only; rebuild it"},
		{"upgraded past sector 0", made500, "cloud-hypervisor v52.0", nil, "", "works with 36.0.0 or later, before 50.1.0 only"},
		{"not installed", made501, "", errors.New("not found"), "cannot tell which cloud-hypervisor is installed (not found)", ""},
		{"no number", made501, "cloud-hypervisor dev", nil, `says no release number ("cloud-hypervisor dev")`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := CheckInstalled(tc.dir, installed(t, tc.version, tc.probeErr))
			switch {
			case tc.errSubstr == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.errSubstr != "" && (err == nil || !strings.Contains(err.Error(), tc.errSubstr)):
				t.Errorf("error %v, want one with %q", err, tc.errSubstr)
			case tc.warning == "" && w != "":
				t.Errorf("warning %q", w)
			case tc.warning != "" && !strings.Contains(w, tc.warning):
				t.Errorf("warning %q, want one with %q", w, tc.warning)
			}
		})
	}
}

func TestCheckInstalledWithoutClaims(t *testing.T) {
	// A runner without build.json is not checked.
	if w, err := CheckInstalled(t.TempDir(), func(string, string) (string, error) {
		t.Error("probed a runner without a build record")
		return "", nil
	}); w != "" || err != nil {
		t.Errorf("CheckInstalled = %q, %v", w, err)
	}
	// crosvm has no releases to compare: even a missing binary is left
	// to fail when the VM starts.
	s, path := parse(t, "hypervisor = \"crosvm\"\n")
	p, err := Runner(context.Background(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: crosvm.Generator{}, Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "runner")
	if err := runner.Write(dir, p); err != nil {
		t.Fatal(err)
	}
	if w, err := CheckInstalled(dir, func(string, string) (string, error) {
		t.Error("probed crosvm, which has no releases to compare")
		return "", os.ErrNotExist
	}); w != "" || err != nil {
		t.Errorf("crosvm: CheckInstalled = %q, %v", w, err)
	}
}

func TestBuildRecordAndDescribe(t *testing.T) {
	b, ok, err := ReadBuild(chRunner(t, "v50.1.0"))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if b.Hypervisor != "cloud-hypervisor" || b.Binary != "/opt/ch/cloud-hypervisor" || b.Facts.Version != "v50.1.0" ||
		b.Requires != (hypervisor.Versions{Min: hypervisor.V(50, 1)}) || b.Newest != hypervisor.V(53, 0) {
		t.Errorf("build record %+v", b)
	}
	want := "Made for cloud-hypervisor v50.1.0 (/opt/ch/cloud-hypervisor); works with 50.1.0 or later."
	if d := b.Describe(); len(d) != 1 || d[0] != want {
		t.Errorf("Describe = %q, want %q", d, want)
	}

	b, _, _ = ReadBuild(chRunner(t, ""))
	want = "cloud-hypervisor was not found or told no release: made for 53.0.0, the newest release checked; works with 50.1.0 or later."
	if d := b.Describe(); len(d) != 1 || d[0] != want {
		t.Errorf("Describe without a version = %q, want %q", d, want)
	}
	b.Notes = []string{"crosvm has no power button on aarch64"}
	if d := b.Describe(); len(d) != 2 || d[1] != "Note: crosvm has no power button on aarch64." {
		t.Errorf("Describe with a note = %q", d)
	}
}
