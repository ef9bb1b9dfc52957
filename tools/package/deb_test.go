package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBinaries stands in for the release binaries: packaging does not
// care what they are, and building them takes minutes.
func fakeBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range binaries {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho "+name+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testDeb(t *testing.T, bin string, mtime time.Time) []byte {
	t.Helper()
	out := t.TempDir()
	p, err := writeDeb(debInput{
		Arch: "amd64", Version: "1.2.3+4.gabc1234", StampedVersion: "v1.2.3-4-gabc1234", MTime: mtime,
		BinDir: bin, SrcDir: "../..", OutDir: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "microvm_1.2.3+4.gabc1234_amd64.deb" {
		t.Errorf("package file %q", p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDebReproducible checks that the same inputs give the same bytes,
// whenever and wherever they are packaged.
func TestDebReproducible(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	a := testDeb(t, fakeBinaries(t), mtime)
	time.Sleep(1100 * time.Millisecond) // a clock that leaked in would show
	b := testDeb(t, fakeBinaries(t), mtime)
	if !bytes.Equal(a, b) {
		t.Error("two packages of the same inputs differ")
	}
}

// TestDebContents checks the package with dpkg-deb: the files where
// Debian's tools look for them, the conffile, the relations, the scripts
// and the fixed time of every file.
func TestDebContents(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("needs dpkg-deb")
	}
	mtime := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	deb := filepath.Join(t.TempDir(), "microvm.deb")
	if err := os.WriteFile(deb, testDeb(t, fakeBinaries(t), mtime), 0o644); err != nil {
		t.Fatal(err)
	}
	dpkgDeb := func(op string, args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg-deb", append([]string{op, deb}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	list := dpkgDeb("--contents")
	for _, want := range []string{
		"./usr/bin/microvm", "./usr/bin/microvm-init",
		"./usr/lib/systemd/system/microvm@.service", "./usr/lib/systemd/system/microvms.target",
		"./etc/microvm/host.toml",
		"./usr/share/man/man1/microvm.1.gz", "./usr/share/man/man1/microvm-create.1.gz",
		"./usr/share/man/man1/microvm-systemd-install.1.gz",
		"./usr/share/bash-completion/completions/microvm",
		"./usr/share/zsh/vendor-completions/_microvm",
		"./usr/share/fish/vendor_completions.d/microvm.fish",
	} {
		if !strings.Contains(list, " "+want+"\n") {
			t.Errorf("the package lacks %s:\n%s", want, list)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if !strings.Contains(line, " root/root ") || !strings.Contains(line, " 2026-01-02 03:04 ") {
			t.Errorf("not root's, or not at the fixed time: %s", line)
		}
		if strings.Contains(line, "/var/lib/microvms") {
			t.Errorf("the package ships the state directory, so dpkg would own it: %s", line)
		}
	}
	for field, want := range map[string]string{
		"Package": "microvm", "Version": "1.2.3+4.gabc1234", "Architecture": "amd64",
		"Recommends": "qemu-system-x86, qemu-utils, e2fsprogs",
		"Depends":    "",
	} {
		if got := strings.TrimSpace(dpkgDeb("--field", field)); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	ctrl := t.TempDir()
	dpkgDebCtrl := exec.Command("dpkg-deb", "--control", deb, ctrl)
	if out, err := dpkgDebCtrl.CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --control: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ctrl, "conffiles")); strings.TrimSpace(string(b)) != "/etc/microvm/host.toml" {
		t.Errorf("conffiles: %q", b)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join(ctrl, s))
		if err != nil {
			t.Errorf("no %s: %v", s, err)
			continue
		}
		// Removing the package leaves the VMs, their data and their user
		// alone: no script names the state directory outside comments.
		for _, line := range strings.Split(string(b), "\n") {
			code, _, _ := strings.Cut(line, "#")
			for _, bad := range []string{"/var/lib/microvms", "userdel", "groupdel", "systemctl stop", "rm "} {
				if strings.Contains(code, bad) {
					t.Errorf("%s: %q: the package must not touch VMs or their data", s, line)
				}
			}
		}
	}
	if b, _ := os.ReadFile(filepath.Join(ctrl, "postinst")); !strings.Contains(string(b), "microvm host init") {
		t.Errorf("postinst does not run microvm host init:\n%s", b)
	}
}
