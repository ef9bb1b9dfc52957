package generate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/microvm-host/microvm/internal/cloudinit"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/runner"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@host"

// TestSeedRecordAndIdentity: the build record names where the user-data
// comes from and the seed's hash, never its content; the identity
// follows the content and nothing else.
func TestSeedRecordAndIdentity(t *testing.T) {
	s, path := parse(t, "[cloudInit]\nuserDataFile = \"user-data\"\nsshAuthorizedKeys = [\""+testKey+"\"]\n")
	ud := filepath.Join(filepath.Dir(path), "user-data")
	secret := "#cloud-config\npassword: hunter2-secret\n"
	if err := os.WriteFile(ud, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts}
	build := func() (*runner.Package, Build) {
		t.Helper()
		p, err := Runner(t.Context(), s, o)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "runner")
		if err := runner.Write(out, p); err != nil {
			t.Fatal(err)
		}
		b, ok, err := ReadBuild(out)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
			if data, _ := os.ReadFile(p); d.Type().IsRegular() && bytes.Contains(data, []byte("hunter2")) {
				t.Errorf("the runner holds the user-data: %s", p)
			}
			return nil
		})
		return p, b
	}
	p1, b1 := build()
	want, err := Seed(s, ReadSeedFile)
	if err != nil {
		t.Fatal(err)
	}
	if b1.CloudInit == nil || b1.CloudInit.UserDataFile != ud || b1.CloudInit.SHA256 != want.SHA256() {
		t.Fatalf("build record %+v; want userDataFile %q and sha256 %s", b1.CloudInit, ud, want.SHA256())
	}
	if !strings.Contains(scriptOf(p1, "microvm-run"), "read-only=on") {
		t.Error("microvm-run does not attach the seed read-only")
	}

	_, b2 := build()
	if b2.Identity != b1.Identity {
		t.Error("the same content gave another identity")
	}
	if got, err := ExpectedSystem(t.Context(), s, "qemu", facts, o.Microvm, path, b1.Inputs, nil); err != nil || got != SystemName(s.Name, b1.Identity) {
		t.Errorf("ExpectedSystem = %q, %v; want the built identity", got, err)
	}
	os.WriteFile(ud, []byte(secret+"runcmd: [ls]\n"), 0o600)
	_, b3 := build()
	if b3.Identity == b1.Identity || b3.CloudInit.SHA256 == b1.CloudInit.SHA256 {
		t.Error("changed user-data kept the identity")
	}
	if got, _ := ExpectedSystem(t.Context(), s, "qemu", facts, o.Microvm, path, b1.Inputs, nil); got == SystemName(s.Name, b1.Identity) {
		t.Error("ExpectedSystem did not notice the changed user-data")
	}
}

// TestNoSeedKeepsIdentity: a spec without [cloudInit] has no record and
// the identity it had before the section existed.
func TestNoSeedKeepsIdentity(t *testing.T) {
	s, path := parse(t, "")
	o := Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts}
	inputs, err := digestInputs(t.Context(), s.Inputs(filepath.Dir(path)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// identity as it was computed before: no seed term.
	id, err := identity(s, "qemu", facts, o.Microvm, inputs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Runner(t.Context(), s, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.System != SystemName(s.Name, id) {
		t.Errorf("system %q, want %q", p.System, SystemName(s.Name, id))
	}
	for _, f := range p.Files {
		if f.Name == BuildFile && bytes.Contains(f.Content, []byte("cloudInit")) {
			t.Errorf("build.json records cloud-init without a seed:\n%s", f.Content)
		}
	}
}

// TestSeedFilesRefused: user-data over the seed's limit, or not a
// regular file, is refused before anything is built.
func TestSeedFilesRefused(t *testing.T) {
	s, path := parse(t, "[cloudInit]\nuserDataFile = \"user-data\"\n")
	ud := s.CloudInit.UserDataFile
	o := Options{SpecPath: path, Microvm: "/usr/bin/microvm", Generator: qemu.Generator{}, Facts: facts}
	os.WriteFile(ud, append([]byte("#!/bin/sh\n"), bytes.Repeat([]byte("#"), cloudinit.MaxContent)...), 0o600)
	_, err := Runner(t.Context(), s, o)
	if err == nil || !strings.Contains(err.Error(), `cloudInit.userDataFile "`+ud+`" is 1048586 bytes; a cloud-init seed holds at most 1048576 (1 MiB)`) {
		t.Errorf("big user-data: %v", err)
	}
	// Under the file limit, but the seed with its meta-data is over.
	os.WriteFile(ud, append([]byte("#!/bin/sh\n"), bytes.Repeat([]byte("#"), cloudinit.MaxContent-20)...), 0o600)
	if _, err := Runner(t.Context(), s, o); err == nil || !strings.Contains(err.Error(), "cloudInit: the seed's user-data (1048566 bytes)") {
		t.Errorf("user-data and meta-data over the limit: %v", err)
	}
	os.Remove(ud)
	if err := syscall.Mkfifo(ud, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Runner(t.Context(), s, o); err == nil || !strings.Contains(err.Error(), `cloudInit.userDataFile "`+ud+`" is a FIFO; expected a regular file`) {
		t.Errorf("FIFO user-data: %v", err)
	}
	os.Remove(ud)
	if _, err := Runner(t.Context(), s, o); err == nil || !strings.Contains(err.Error(), "cloudInit.userDataFile: open "+ud+": no such file") {
		t.Errorf("missing user-data: %v", err)
	}
	// Keys need #cloud-config, also when the user-data is a file.
	s.CloudInit.SSHAuthorizedKeys = []string{testKey}
	os.WriteFile(ud, []byte("#!/bin/sh\necho hi\n"), 0o600)
	if _, err := Runner(t.Context(), s, o); err == nil || !strings.Contains(err.Error(), "cloudInit: user-data: starts with \"#!/bin/sh\", not #cloud-config") {
		t.Errorf("keys and a script: %v", err)
	}
}
