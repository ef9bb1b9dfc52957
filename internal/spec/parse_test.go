package spec

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/tomlfile"
)

// TestParseBad parses every testdata/bad file and expects each of its
// leading "# error: TEXT" comments in the error, located in that file.
func TestParseBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("%d bad specs; expected at least 20", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := expectedErrors(data)
			if len(want) == 0 {
				t.Fatal(`no leading "# error: " line`)
			}
			s, err := Parse(file)
			if err == nil {
				t.Fatalf("Parse succeeded with %+v; want errors %q", s, want)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q; got:\n%v", w, err)
				}
			}
			line := 0
			for _, e := range split(err) {
				if !strings.HasPrefix(e.Error(), file+":") {
					t.Errorf("error %q does not start with the file name", e)
				}
				// Problems come in the order of the file.
				if se, ok := e.(*Error); ok && se.Line < line {
					t.Errorf("error %q comes after one on line %d", e, line)
				} else if ok {
					line = se.Line
				}
			}
		})
	}
}

func expectedErrors(data []byte) []string {
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		w, ok := strings.CutPrefix(sc.Text(), "# error: ")
		if !ok {
			break
		}
		want = append(want, w)
	}
	return want
}

func TestParseMinimal(t *testing.T) {
	got, err := Parse("testdata/good/minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Name:            "minimal",
		Hypervisor:      "qemu",
		Vcpu:            1,
		Mem:             512,
		Kernel:          "vmlinuz",
		Socket:          ptr("minimal.sock"),
		DeflateOnOOM:    ptr(true),
		HotpluggedMem:   ptr(0),
		PrettyProcnames: ptr(true),
		Qemu:            QemuOptions{Machine: "microvm", SerialConsole: ptr(true)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("minimal.toml (-want +got):\n%s", diff)
	}
}

func TestParseFull(t *testing.T) {
	got, err := Parse("testdata/good/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Name:            "full",
		Hypervisor:      "qemu",
		Vcpu:            2,
		Mem:             1024,
		Kernel:          "boot/bzImage",
		Initrd:          "/boot/initrd.img",
		KernelParams:    []string{"console=ttyS0", "quiet"},
		Socket:          ptr("control.sock"),
		Balloon:         true,
		DeflateOnOOM:    ptr(false),
		HotpluggedMem:   ptr(0),
		User:            "microvm",
		PreStart:        "echo starting\n",
		PrettyProcnames: ptr(false),
		Interfaces: []Interface{
			{Type: "tap", ID: "vm-full-tap", MAC: "02:00:00:00:00:01", Network: "default"},
			{Type: "macvtap", ID: "vm-full-mvt", MAC: "02:00:00:00:00:02", Macvtap: Macvtap{Link: "eth0", Mode: "bridge"}},
			{Type: "bridge", ID: "vm-full-br", MAC: "02:00:00:00:00:03", Bridge: "br0"},
			{Type: "user", ID: "usernet", MAC: "02:00:00:00:00:04"},
		},
		Shares: []Share{
			{Proto: "virtiofs", Tag: "ro-store", Source: "/nix/store", MountPoint: "/nix/.ro-store", Socket: "store.sock"},
			{Proto: "9p", Tag: "home", Source: "home", MountPoint: "/home", SecurityModel: "mapped-xattr"},
		},
		Volumes: []Volume{
			{Image: "var.img", Size: 256, FsType: "xfs", Label: "var", AutoCreate: ptr(true), MountPoint: "/var",
				Serial: "var0", Direct: true, MkfsArgs: []string{"-m", "crc=1"}, Format: "raw"},
			{Image: "data.img", FsType: "ext4", ReadOnly: true, AutoCreate: ptr(false), MountPoint: "/data", Format: "raw"},
		},
		Devices: []Device{
			{Bus: "pci", Path: "0000:01:00.0"},
			{Bus: "usb", Path: "vendorid=0x0bda,productid=0x2838"},
		},
		Vsock: Vsock{CID: 42},
		ForwardPorts: []ForwardPort{
			{From: "host", Proto: "tcp", Host: Endpoint{Address: "127.0.0.1", Port: 2222}, Guest: Endpoint{Port: 22}},
			{From: "guest", Proto: "udp", Host: Endpoint{Address: "10.0.0.1", Port: 53}, Guest: Endpoint{Address: "10.0.2.100", Port: 53}},
		},
		Qemu:            QemuOptions{ExtraArgs: []string{"-cpu", "host"}, Machine: "q35", SerialConsole: ptr(false)},
		CloudHypervisor: ExtraArgs{ExtraArgs: []string{"--ch"}},
		Firecracker:     ExtraArgs{ExtraArgs: []string{"--fc"}},
		Crosvm:          ExtraArgs{ExtraArgs: []string{"--crosvm"}},
		Kvmtool:         ExtraArgs{ExtraArgs: []string{"--kvmtool"}},
		Stratovirt:      ExtraArgs{ExtraArgs: []string{"--stratovirt"}},
		Alioth:          ExtraArgs{ExtraArgs: []string{"--alioth"}},
		CloudInit: &CloudInit{
			UserDataFile:      "user-data.yaml",
			SSHAuthorizedKeys: []string{testKey},
			Hostname:          "full-1.example.org",
			NetworkConfig:     "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("full.toml (-want +got):\n%s", diff)
	}
}

// TestParseDisks covers root disks, formats and bases: the format's
// default follows base and convert, and bases resolve against the spec's
// directory.
func TestParseDisks(t *testing.T) {
	got, err := Parse("testdata/good/disks.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Volume{
		{Image: "root.qcow2", Base: "images/debian-12.qcow2", Root: true, Size: 4096, Format: "qcow2", FsType: "ext4", AutoCreate: ptr(true)},
		{Image: "copy.img", Base: "/var/lib/images/debian-12.qcow2", Convert: true, Format: "raw", FsType: "ext4", AutoCreate: ptr(true)},
		{Image: "old.qcow2", Format: "qcow2", FsType: "ext4", AutoCreate: ptr(false)},
	}
	if diff := cmp.Diff(want, got.Volumes); diff != "" {
		t.Errorf("disks.toml volumes (-want +got):\n%s", diff)
	}
	if !got.HostModules {
		t.Error("hostModules not set")
	}
	if i, ok := got.RootVolume(); !ok || i != 0 {
		t.Errorf("RootVolume = %d, %v; want 0", i, ok)
	}
	got.ResolvePaths("/specs")
	if b := got.Volumes[0].Base; b != "/specs/images/debian-12.qcow2" {
		t.Errorf("base resolved to %q", b)
	}
}

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@host"

// TestParseCloudInit covers the other half of [cloudInit]: inline
// user-data, a network config file, and the hostname's default.
func TestParseCloudInit(t *testing.T) {
	got, err := Parse("testdata/good/cloud-init.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := &CloudInit{
		UserData:          "#cloud-config\npackages: [htop]\n",
		NetworkConfigFile: "network.yaml",
		Hostname:          "cloud-init",
	}
	if diff := cmp.Diff(want, got.CloudInit); diff != "" {
		t.Errorf("cloud-init.toml (-want +got):\n%s", diff)
	}
	got.ResolvePaths("/specs")
	if got.CloudInit.NetworkConfigFile != "/specs/network.yaml" {
		t.Errorf("networkConfigFile resolved to %q", got.CloudInit.NetworkConfigFile)
	}
}

// TestGoodUsesEveryKey keeps the good specs complete: a field added to
// Spec must be set in full.toml, or in another good file where it
// excludes one set there (userData and userDataFile), so decoding it is
// tested.
func TestGoodUsesEveryKey(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range tomlfile.IndexKeys(data).Paths() {
			written[tomlfile.KeyOnly(path)] = true
		}
	}
	for _, key := range tomlKeys(reflect.TypeFor[Spec](), "") {
		if !written[key] {
			t.Errorf("no file in testdata/good sets %q", key)
		}
	}
}

// tomlKeys lists the leaf keys of struct type t below prefix.
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if name == "-" || name == "" {
			continue
		}
		ft := f.Type
		if (ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer) && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			keys = append(keys, tomlKeys(ft, strings.TrimPrefix(prefix+"."+name, "."))...)
		} else {
			keys = append(keys, strings.TrimPrefix(prefix+"."+name, "."))
		}
	}
	return keys
}

func TestParseBytesName(t *testing.T) {
	s, err := ParseBytes("web-1", "<stdin>", []byte(`kernel = "k"`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "web-1" || s.ControlSocket() != "web-1.sock" {
		t.Errorf("name %q, socket %q; want web-1 and web-1.sock", s.Name, s.ControlSocket())
	}
	_, err = ParseBytes("-web", "<stdin>", []byte(`kernel = "k"`))
	if err == nil || !strings.HasPrefix(err.Error(), `<stdin>: invalid VM name "-web"`) {
		t.Errorf("ParseBytes(-web) = %v; want an invalid name error", err)
	}
}

func TestParseMissingFile(t *testing.T) {
	_, err := Parse(filepath.Join(t.TempDir(), "vm.toml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Parse(missing) = %v; want a not-exist error", err)
	}
}

// FuzzParseBytes checks that no input makes Parse panic, and that what it
// accepts passes Validate.
func FuzzParseBytes(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(dir + "/*.toml")
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseBytes("vm", "vm.toml", data)
		if err == nil {
			if err := s.Validate(); err != nil {
				t.Errorf("Parse accepted a spec Validate refuses: %v", err)
			}
		}
	})
}

func TestParseImageProcess(t *testing.T) {
	got, err := Parse("testdata/good/image-process.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Process{
		Command:    []string{"/bin/sh", "-c"},
		Args:       []string{`echo "$GREETING from $(pwd)"`},
		Env:        []string{"GREETING=hello", "EMPTY="},
		WorkingDir: "/srv",
	}
	if diff := cmp.Diff(want, got.Process); diff != "" {
		t.Errorf("process (-want +got):\n%s", diff)
	}
}
