package generate

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
)

// bzImage is the start of an x86 bzImage whose setup header names
// release.
func bzImage(release string) []byte {
	b := make([]byte, 0x1000)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x206:], 0x20f)
	binary.LittleEndian.PutUint16(b[0x20e:], 0x600)
	copy(b[0x800:], release+" (debian-kernel@lists.debian.org) #1 SMP\x00")
	return b
}

func TestKernelRelease(t *testing.T) {
	dir := t.TempDir()
	bz := filepath.Join(dir, "bzImage")
	os.WriteFile(bz, bzImage("6.1.0-57-cloud-amd64"), 0o644)
	named := filepath.Join(dir, "vmlinuz-6.12.1-arm64")
	os.WriteFile(named, []byte("an arm64 Image"), 0o644)
	anon := filepath.Join(dir, "kernel")
	os.WriteFile(anon, []byte("no header"), 0o644)
	for _, tc := range []struct{ path, want, err string }{
		{bz, "6.1.0-57-cloud-amd64", ""},
		{named, "6.12.1-arm64", ""},
		{anon, "", "is no x86 bzImage, and its name is not vmlinuz-RELEASE"},
	} {
		got, err := KernelRelease(tc.path)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("KernelRelease(%s) = %q, %v; want %q, %q", filepath.Base(tc.path), got, err, tc.want, tc.err)
		}
	}
}

// TestDisksInTheRunScript: bin/microvm-run makes every volume from its
// base or with mkfs, checks every format, and makes the modules image;
// build.json lists the base and the modules for the pre-start check.
func TestDisksInTheRunScript(t *testing.T) {
	s, path := parse(t, `
hostModules = true
[[volumes]]
image = "root.qcow2"
base = "images/base.img"
root = true
[[volumes]]
image = "copy.img"
base = "images/base.img"
convert = true
size = 64
[[volumes]]
image = "old.qcow2"
format = "qcow2"
autoCreate = false
[[volumes]]
image = "data.img"
size = 8
`)
	dir := filepath.Dir(path)
	os.WriteFile(filepath.Join(dir, "vmlinuz"), bzImage("6.1.0-test"), 0o644)
	os.MkdirAll(filepath.Join(dir, "images"), 0o755)
	os.WriteFile(filepath.Join(dir, "images/base.img"), make([]byte, 4096), 0o644)
	modules := filepath.Join(dir, "modules")
	os.MkdirAll(filepath.Join(modules, "6.1.0-test"), 0o755)
	os.WriteFile(filepath.Join(modules, "6.1.0-test/modules.dep"), nil, 0o644)

	p, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts, ModulesRoot: modules})
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "images/base.img")
	run := scriptOf(p, "microvm-run")
	for _, want := range []string{
		"/usr/bin/microvm runner volume --image root.qcow2 --format qcow2 --base " + base + "\n",
		"/usr/bin/microvm runner volume --image copy.img --format raw --base " + base + " --convert --size 64\n",
		"/usr/bin/microvm runner volume --image old.qcow2 --format qcow2 --existing\n",
		"/usr/bin/microvm runner volume --image data.img --format raw --size 8 --fs ext4\n",
		"/usr/bin/microvm runner modules --image host-modules.img --release 6.1.0-test\n",
		"root=/dev/vda rw",
		"format=qcow2,file=root.qcow2",
		"format=raw,file=host-modules.img",
	} {
		if !strings.Contains(run, want) {
			t.Errorf("bin/microvm-run lacks %q:\n%s", want, run)
		}
	}
	var b Build
	for _, f := range p.Files {
		if f.Name == BuildFile {
			json.Unmarshal(f.Content, &b)
		}
	}
	want := []Open{
		{What: "kernel", Path: filepath.Join(dir, "vmlinuz"), Access: AccessRead},
		{What: "volumes[0].image", Path: "root.qcow2", Access: AccessReadWrite, Created: true},
		{What: "volumes[0].base", Path: base, Access: AccessShared},
		{What: "volumes[1].image", Path: "copy.img", Access: AccessReadWrite, Created: true},
		{What: "volumes[1].base", Path: base, Access: AccessShared},
		{What: "volumes[2].image", Path: "old.qcow2", Access: AccessReadWrite},
		{What: "volumes[3].image", Path: "data.img", Access: AccessReadWrite, Created: true},
		{What: "hostModules", Path: filepath.Join(modules, "6.1.0-test"), Access: AccessDir},
	}
	if diff := cmp.Diff(want, b.Opens); diff != "" {
		t.Errorf("opens (-want +got):\n%s", diff)
	}
}

// TestBadBasesAndModulesAreRefusedAtBuild: a missing or corrupt base, or
// a kernel whose modules the host lacks, stop the build naming the option.
func TestBadBasesAndModulesAreRefusedAtBuild(t *testing.T) {
	build := func(body string, prepare func(dir string)) error {
		s, path := parse(t, body)
		if prepare != nil {
			prepare(filepath.Dir(path))
		}
		_, err := Runner(t.Context(), s, Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts,
			ModulesRoot: filepath.Join(filepath.Dir(path), "modules")})
		return err
	}
	err := build("[[volumes]]\nimage = \"root.qcow2\"\nbase = \"gone.qcow2\"\n", nil)
	if err == nil || !strings.Contains(err.Error(), "volumes[0].base: ") || !strings.Contains(err.Error(), "gone.qcow2\": open ") {
		t.Errorf("missing base: %v", err)
	}
	err = build("[[volumes]]\nimage = \"root.qcow2\"\nbase = \"bad.qcow2\"\n", func(dir string) {
		os.WriteFile(filepath.Join(dir, "bad.qcow2"), []byte("QFI\xfb\x00\x00\x00\x03"), 0o644)
	})
	if err == nil || !strings.Contains(err.Error(), "corrupt qcow2 image: the header is cut short at 8 bytes") {
		t.Errorf("corrupt base: %v", err)
	}
	err = build("hostModules = true\n", func(dir string) {
		os.WriteFile(filepath.Join(dir, "vmlinuz"), bzImage("6.1.0-gone"), 0o644)
	})
	if err == nil || !strings.Contains(err.Error(), "hostModules: kernel") || !strings.Contains(err.Error(), "is release 6.1.0-gone, whose modules are not in") {
		t.Errorf("missing modules: %v", err)
	}
}
