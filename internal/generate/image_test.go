package generate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/runner"
)

func TestImageRunner(t *testing.T) {
	s, path := parse(t, "image = \"docker-archive:app.tar\"\n")
	archive := filepath.Join(filepath.Dir(path), "app.tar")
	os.WriteFile(archive, []byte("archive v1"), 0o644)
	img := &Image{Ref: s.Image, Config: "sha256:" + strings.Repeat("1", 64), Init: "/usr/lib/microvm/microvm-init", Modules: "/lib/modules/6.1.0", Args: []string{"sh"}}
	o := Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts, Image: img}
	p, err := Runner(t.Context(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	b := readBuild(t, p)
	if b.Image == nil || b.Image.Config != img.Config || b.Image.Ref != "docker-archive:"+archive {
		t.Errorf("build.json image = %+v", b.Image)
	}
	// The archive is an input (list notices a new one), but not a file
	// the hypervisor opens.
	if !slices.ContainsFunc(b.Inputs, func(in Input) bool { return in.Path == archive }) {
		t.Errorf("inputs %+v lack the archive", b.Inputs)
	}
	for _, op := range b.Opens {
		if op.Path == archive {
			t.Errorf("opens lists the archive: %+v", op)
		}
	}
	run := scriptOf(p, "microvm-run")
	for _, arg := range []string{"-initrd image-initrd.img", "file=image-root.ext4,if=none,aio=io_uring,discard=unmap,read-only=on"} {
		if !strings.Contains(run, arg) {
			t.Errorf("microvm-run lacks %q:\n%s", arg, run)
		}
	}

	exp, err := ExpectedSystem(t.Context(), s, "qemu", facts, o.Microvm, path, b.Inputs, b.Image)
	if err != nil || exp != p.System {
		t.Errorf("ExpectedSystem = %q, %v; built %q", exp, err, p.System)
	}
	// Another image behind the same reference: another runner.
	other := *img
	other.Config = "sha256:" + strings.Repeat("2", 64)
	o.Image = &other
	if p2, err := Runner(t.Context(), s, o); err != nil || p2.System == p.System {
		t.Errorf("another image, same identity (%v)", err)
	}
	// A rebuilt archive shows without resolving it.
	os.WriteFile(archive, []byte("archive v2"), 0o644)
	if exp, _ := ExpectedSystem(t.Context(), s, "qemu", facts, o.Microvm, path, b.Inputs, b.Image); exp == p.System {
		t.Error("ExpectedSystem did not notice the new archive")
	}
}

func TestImageMustBeResolved(t *testing.T) {
	s, path := parse(t, "image = \"alpine\"\n")
	_, err := Runner(t.Context(), s, Options{SpecPath: path, Generator: qemu.Generator{}, Facts: facts})
	if err == nil || !strings.Contains(err.Error(), `image "alpine": not resolved`) {
		t.Errorf("Runner without a resolved image = %v", err)
	}
}

func readBuild(t *testing.T, p *runner.Package) Build {
	t.Helper()
	for _, f := range p.Files {
		if f.Name == BuildFile {
			var b Build
			if err := json.Unmarshal(f.Content, &b); err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatal("no build.json")
	return Build{}
}

func TestDescribeImage(t *testing.T) {
	b := Build{Image: &Image{Ref: "docker-archive:/srv/app.tar", Config: "sha256:abc", Args: []string{"sh", "-c", "echo \x1b[31mred"}}}
	d := b.Describe()
	if len(d) != 1 || d[0] != `Boots image docker-archive:/srv/app.tar (config sha256:abc), which runs sh -c echo \x1b[31mred.` {
		t.Errorf("Describe = %q", d)
	}
}
