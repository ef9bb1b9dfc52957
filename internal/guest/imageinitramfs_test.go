package guest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imageModules writes a modules directory with fakeModules' modules and
// overlay; everything else an image VM's init loads is built in.
func imageModules(t *testing.T) string {
	t.Helper()
	dir := fakeModules(t)
	dep := fakeModulesDep + "kernel/fs/overlayfs/overlay.ko:\n"
	os.MkdirAll(filepath.Join(dir, "kernel/fs/overlayfs"), 0o755)
	os.WriteFile(filepath.Join(dir, "kernel/fs/overlayfs/overlay.ko"), []byte("module overlay"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644)
	var builtin []string
	for _, m := range ImageModules {
		builtin = append(builtin, "kernel/"+m+".ko")
	}
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(strings.Join(builtin, "\n")+"\n"), 0o644)
	return dir
}

func TestBuildImageInitramfs(t *testing.T) {
	init := []byte("the init")
	var b bytes.Buffer
	if err := BuildImageInitramfs(&b, ImageOptions{Init: init, ModulesDir: imageModules(t)}); err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpioEntry{}
	for _, e := range readCPIO(t, b.Bytes()) {
		byName[e.name] = e
	}
	for name, want := range map[string]cpioEntry{
		"init":                      {mode: modeFile | 0o755, data: "the init"},
		"dev/console":               {mode: modeCharDev | 0o600, major: 5, minor: 1},
		"mnt/image":                 {mode: modeDir | 0o755},
		"mnt/rw":                    {mode: modeDir | 0o755},
		"mnt/root":                  {mode: modeDir | 0o755},
		"etc/modules-order":         {mode: modeFile | 0o644, data: "virtio\nvirtio_ring\nvirtio_mmio\nvirtio_blk\nfuse\nvirtiofs\ncrc32c_generic\noverlay\n"},
		"lib/modules/overlay.ko":    {mode: modeFile | 0o644, data: "module overlay"},
		"lib/modules/virtio_blk.ko": {mode: modeFile | 0o644, data: "module virtio_blk"},
	} {
		got := byName[name]
		if got.mode != want.mode || got.data != want.data || got.major != want.major || got.minor != want.minor {
			t.Errorf("%s = %+v; want %+v", name, got, want)
		}
	}
	if _, ok := byName["bin/busybox"]; ok {
		t.Error("an image VM's initramfs holds busybox")
	}
}

func TestBuildImageInitramfsWithoutModules(t *testing.T) {
	var b bytes.Buffer
	if err := BuildImageInitramfs(&b, ImageOptions{Init: []byte("init")}); err != nil {
		t.Fatal(err)
	}
	for _, e := range readCPIO(t, b.Bytes()) {
		if strings.HasPrefix(e.name, "lib/modules/") || e.name == "etc/modules-order" {
			t.Errorf("a kernel with everything built in gets %s", e.name)
		}
	}
}

func TestCheckImageModules(t *testing.T) {
	if err := CheckImageModules(imageModules(t)); err != nil {
		t.Error(err)
	}
	err := CheckImageModules(fakeModules(t))
	if err == nil || !strings.Contains(err.Error(), `kernel module "overlay" is neither in`) {
		t.Errorf("CheckImageModules(no overlay) = %v", err)
	}
}

func TestReadStaticInit(t *testing.T) {
	static, err := os.Open(fakeELF(t, false))
	if err != nil {
		t.Fatal(err)
	}
	defer static.Close()
	if b, err := ReadStaticInit(static); err != nil || len(b) == 0 {
		t.Errorf("ReadStaticInit(static) = %d bytes, %v", len(b), err)
	}
	dynamic, err := os.Open(fakeELF(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer dynamic.Close()
	if _, err := ReadStaticInit(dynamic); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("ReadStaticInit(dynamic) = %v", err)
	}
	text, err := os.Open("/etc/hostname")
	if err == nil {
		defer text.Close()
		if _, err := ReadStaticInit(text); err == nil {
			t.Error("ReadStaticInit accepted a text file")
		}
	}
}
