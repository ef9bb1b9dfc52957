package guest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestModuleOrder(t *testing.T) {
	ix, err := readModuleIndex(fakeModules(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ix.order([]string{"virtiofs", "virtio-blk", "ext4", "crc32c_generic"}, []string{"9p"})
	if err != nil {
		t.Fatal(err)
	}
	// Dependencies first; ext4 is built in and 9p optional, so neither
	// appears; '-' and '_' are the same.
	want := []string{"fuse", "virtio", "virtio_ring", "virtiofs", "virtio_blk", "crc32c_generic"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestModuleOrderMissing(t *testing.T) {
	ix, err := readModuleIndex(fakeModules(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ix.order([]string{"virtio_blk", "9p", "nosuch"}, nil)
	for _, name := range []string{`"9p"`, `"nosuch"`} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

func TestHasModule(t *testing.T) {
	dir := fakeModules(t)
	for name, want := range map[string]bool{"virtio_blk": true, "ext4": true, "crc32c-generic": true, "9p": false} {
		if got, err := HasModule(dir, name); err != nil || got != want {
			t.Errorf("HasModule(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func buildFake(t *testing.T, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := BuildInitramfs(&b, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestBuildInitramfsContents(t *testing.T) {
	o := Options{Busybox: fakeELF(t, false), ModulesDir: fakeModules(t), Modules: []string{"virtiofs", "virtio_blk", "ext4"}}
	entries := readCPIO(t, buildFake(t, o))
	byName := map[string]cpioEntry{}
	var names []string
	for _, e := range entries {
		byName[e.name] = e
		names = append(names, e.name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries not sorted: %q", names)
	}
	for _, name := range names {
		if name == "" || strings.HasPrefix(name, "/") || name != filepath.Clean(name) {
			t.Errorf("bad entry name %q", name)
		}
		if dir := filepath.Dir(name); dir != "." && byName[dir].mode&modeType != modeDir {
			t.Errorf("%q has no parent directory entry", name)
		}
	}
	busybox, _ := os.ReadFile(o.Busybox)
	for name, want := range map[string]cpioEntry{
		"init":                      {mode: modeFile | 0o755, data: string(initScript)},
		"bin/busybox":               {mode: modeFile | 0o755, data: string(busybox)},
		"bin/sh":                    {mode: modeSymlink | 0o777, data: "busybox"},
		"sbin/init":                 {mode: modeSymlink | 0o777, data: "../bin/busybox"},
		"dev/console":               {mode: modeCharDev | 0o600, major: 5, minor: 1},
		"etc/inittab":               {mode: modeFile | 0o644, data: string(inittab)},
		"etc/acpi/PWRF/00000080":    {mode: modeFile | 0o755, data: acpiHandler},
		"etc/modules-order":         {mode: modeFile | 0o644, data: "fuse\nvirtio\nvirtio_ring\nvirtiofs\nvirtio_blk\n"},
		"lib/modules/virtio_blk.ko": {mode: modeFile | 0o644, data: "module virtio_blk"},
		"lib/modules/virtiofs.ko":   {mode: modeFile | 0o644, data: "module virtiofs"},
	} {
		want.name = name
		if diff := cmp.Diff(want, byName[name], cmp.AllowUnexported(cpioEntry{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	for _, applet := range applets {
		if _, ok := byName["bin/"+applet]; !ok {
			t.Errorf("no applet link bin/%s", applet)
		}
	}
}

// TestBuildInitramfsDeterministic builds twice, with the inputs' mtimes
// changed in between, and wants the same bytes.
func TestBuildInitramfsDeterministic(t *testing.T) {
	o := Options{Busybox: fakeELF(t, false), ModulesDir: fakeModules(t), Modules: []string{"virtiofs", "virtio_blk"}}
	first := buildFake(t, o)
	later := time.Now().Add(time.Hour)
	filepath.Walk(o.ModulesDir, func(p string, _ os.FileInfo, _ error) error {
		return os.Chtimes(p, later, later)
	})
	os.Chtimes(o.Busybox, later, later)
	second := buildFake(t, o)
	if !bytes.Equal(first, second) {
		t.Fatalf("builds differ: %x vs %x", sha256.Sum256(first), sha256.Sum256(second))
	}
	// The gzip header holds no name and no mtime.
	if first[3] != 0 || !bytes.Equal(first[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("gzip header flags %#x mtime %x, want 0 and 0", first[3], first[4:8])
	}
}

// TestBuildInitramfsHostCPIO checks the archive with an independent newc
// reader, GNU cpio, when it is installed.
func TestBuildInitramfsHostCPIO(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skipf("needs cpio (apt-get install cpio): %v", err)
	}
	o := Options{Busybox: fakeELF(t, false), ModulesDir: fakeModules(t), Modules: []string{"virtiofs", "virtio_blk"}}
	var want []string
	for _, e := range readCPIO(t, buildFake(t, o)) {
		want = append(want, e.name)
	}
	cmd := exec.Command("sh", "-c", `gzip -dc | "$0" -t --quiet`, cpio)
	cmd.Stdin = bytes.NewReader(buildFake(t, o))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	if diff := cmp.Diff(want, strings.Fields(string(out))); diff != "" {
		t.Errorf("cpio -t listing (-ours +cpio):\n%s", diff)
	}
}

func TestBuildInitramfsErrors(t *testing.T) {
	mods := fakeModules(t)
	notELF := filepath.Join(t.TempDir(), "busybox")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"dynamic busybox", Options{Busybox: fakeELF(t, true), ModulesDir: mods}, "dynamically linked"},
		{"not ELF", Options{Busybox: notELF, ModulesDir: mods}, "reading busybox"},
		{"no kernel", Options{Busybox: fakeELF(t, false)}, "neither KernelVersion nor ModulesDir"},
		{"no modules.dep", Options{Busybox: fakeELF(t, false), ModulesDir: t.TempDir()}, "modules.dep"},
		{"missing module", Options{Busybox: fakeELF(t, false), ModulesDir: mods, Modules: []string{"vsock"}}, `"vsock"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := BuildInitramfs(&bytes.Buffer{}, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestInitScriptSyntax parses the embedded scripts with the busybox shell
// the guest runs them with.
func TestInitScriptSyntax(t *testing.T) {
	if _, err := readStatic(DefaultBusybox); err != nil {
		t.Skipf("needs busybox-static: %v", err)
	}
	for name, script := range map[string][]byte{"init.sh": initScript, "acpi handler": []byte(acpiHandler)} {
		cmd := exec.Command(DefaultBusybox, "sh", "-n")
		cmd.Stdin = bytes.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
}

func TestFindKernel(t *testing.T) {
	root := t.TempDir()
	boot, mods := filepath.Join(root, "boot"), filepath.Join(root, "lib/modules")
	if _, _, err := FindKernel(boot, mods); !errors.Is(err, ErrNoKernel) {
		t.Errorf("empty root: error %v, want ErrNoKernel", err)
	}
	os.MkdirAll(boot, 0o755)
	for _, v := range []string{"6.1.0-9-cloud-amd64", "6.1.0-10-cloud-amd64", "6.2.0-1-amd64"} {
		os.WriteFile(filepath.Join(boot, "vmlinuz-"+v), nil, 0o644)
	}
	// 6.2.0-1 has no modules, so it cannot boot the guest.
	for _, v := range []string{"6.1.0-9-cloud-amd64", "6.1.0-10-cloud-amd64"} {
		os.MkdirAll(filepath.Join(mods, v), 0o755)
		os.WriteFile(filepath.Join(mods, v, "modules.dep"), nil, 0o644)
	}
	kernel, version, err := FindKernel(boot, mods)
	if err != nil || version != "6.1.0-10-cloud-amd64" || kernel != filepath.Join(boot, "vmlinuz-6.1.0-10-cloud-amd64") {
		t.Errorf("FindKernel = %q, %q, %v", kernel, version, err)
	}
}

func TestCompareVersions(t *testing.T) {
	ordered := []string{"5.10.0-30-amd64", "6.1.0-9-amd64", "6.1.0-10-amd64", "6.1.0-10-cloud-amd64", "6.12.0-1-amd64"}
	for i := range ordered {
		for j := range ordered {
			if got := compareVersions(ordered[i], ordered[j]); (got < 0) != (i < j) || (got == 0) != (i == j) {
				t.Errorf("compareVersions(%q, %q) = %d", ordered[i], ordered[j], got)
			}
		}
	}
}
