package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/microvm-host/microvm/internal/oci/ocitest"
	"github.com/microvm-host/microvm/internal/spec"
)

func TestFindInit(t *testing.T) {
	t.Setenv(EnvInit, "")
	if got := findInit("/usr/local/bin/microvm"); got != "/usr/local/bin/microvm-init" {
		t.Errorf("findInit = %q; want the one next to microvm", got)
	}
	t.Setenv(EnvInit, "/opt/init")
	if got := findInit("/usr/local/bin/microvm"); got != "/opt/init" {
		t.Errorf("findInit = %q; want $%s", got, EnvInit)
	}
}

func TestModulesOf(t *testing.T) {
	if got := modulesOf("/srv/bzImage"); got != "" {
		t.Errorf("modulesOf(a kernel not named vmlinuz-VERSION) = %q", got)
	}
	if got := modulesOf("/boot/vmlinuz-0.0.0-none"); got != "" {
		t.Errorf("modulesOf(a version without modules) = %q", got)
	}
	paths, _ := filepath.Glob("/lib/modules/*/modules.dep")
	if len(paths) == 0 {
		t.Skip("no kernel modules installed")
	}
	v := filepath.Base(filepath.Dir(paths[0]))
	if got := modulesOf("/boot/vmlinuz-" + v); got != filepath.Dir(paths[0]) {
		t.Errorf("modulesOf(vmlinuz-%s) = %q", v, got)
	}
}

func TestResolveImage(t *testing.T) {
	dir := t.TempDir()
	b := &Builder{Microvm: filepath.Join(dir, "microvm"), Init: filepath.Join(dir, "microvm-init")}
	archive := filepath.Join(dir, "app.tar")
	s := &spec.Spec{Name: "vm", Image: "docker-archive:" + archive, Kernel: "/srv/bzImage"}
	if _, err := b.resolveImage(t.Context(), s); err == nil || !strings.Contains(err.Error(), `image "docker-archive:`+archive+`": reading docker archive`) {
		t.Errorf("resolveImage(no archive) = %v", err)
	}
	l, err := ocitest.Layer(ocitest.Entry{Name: "app", Body: "#!/bin/sh\n", Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	img, err := ocitest.Image(v1.Config{Cmd: []string{"/app"}}, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := ocitest.WriteArchive(archive, "app:1", img); err != nil {
		t.Fatal(err)
	}
	if _, err := b.resolveImage(t.Context(), s); err == nil || !strings.Contains(err.Error(), "image VMs need microvm-init, the init of their initramfs") || !strings.Contains(err.Error(), "set MICROVM_INIT") {
		t.Errorf("resolveImage(no init) = %v", err)
	}
	os.WriteFile(b.Init, []byte("#!/bin/sh\n"), 0o755)
	if _, err := b.resolveImage(t.Context(), s); err == nil || !strings.Contains(err.Error(), "microvm-init") {
		t.Errorf("resolveImage(a script as init) = %v", err)
	}
}
