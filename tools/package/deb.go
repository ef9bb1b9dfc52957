package main

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// debian holds the maintainer scripts.
//
//go:embed debian
var debian embed.FS

// hostConfigExample is the example host.toml in the source tree, shipped
// as the conffile /etc/microvm/host.toml.
const hostConfigExample = "examples/host.toml"

// debArch maps GOARCH to Debian's architecture name.
var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64"}

// qemuPackage is the Debian package of the qemu that runs VMs of the
// architecture.
var qemuPackage = map[string]string{"amd64": "qemu-system-x86", "arm64": "qemu-system-arm"}

// debInput is what writeDeb packages.
type debInput struct {
	Arch           string    // GOARCH
	Version        string    // the Debian version
	StampedVersion string    // what the binaries say (git describe)
	MTime          time.Time // every file's time
	BinDir         string    // the built binaries
	SrcDir         string    // the source tree (examples/host.toml)
	OutDir         string
}

// relations are the package's dependencies. The binaries are static and
// need no library, so there is no Depends: the postinst's useradd,
// groupadd and modprobe come with every Debian (passwd, kmod). What VMs
// run with is recommended, not required: a host may run only
// cloud-hypervisor, firecracker or hand-written runners, and a
// Kubernetes node only image VMs. Recommends are installed by default,
// so `apt-get install ./microvm_*.deb` gives a host that runs the
// default hypervisor: qemu (with the C virtiofsd in Debian 12's
// qemu-system-common), qemu-img for volume overlays, mkfs.ext4 for
// volumes and image VMs. Suggested: what the demo guest is made of.
func relations(arch string) nfpm.Overridables {
	return nfpm.Overridables{
		Recommends: []string{qemuPackage[arch], "qemu-utils", "e2fsprogs"},
		Suggests:   []string{"busybox-static", "linux-image-cloud-" + arch, "systemd"},
	}
}

// writeDeb writes the Debian package into in.OutDir and returns its path.
func writeDeb(in debInput) (string, error) {
	stage, err := os.MkdirTemp("", "microvm-package-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)

	contents, err := stageContents(in, stage)
	if err != nil {
		return "", err
	}
	scripts, err := stageScripts(stage)
	if err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:          "microvm",
		Arch:          debArch[in.Arch],
		Platform:      "linux",
		Version:       in.Version,
		VersionSchema: "none",
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    "microvm developers <microvm@invalid>",
		Description: "MicroVM host: run microvm.nix runner packages as supervised VMs\n" +
			"microvm runs MicroVM runner packages (microvm.nix's convention) on any\n" +
			"Linux host, under systemd (microvm@.service) or its own daemon, and\n" +
			"builds runners for seven hypervisors from a small spec file.",
		Homepage: "https://github.com/microvm-host/microvm",
		MTime:    in.MTime,
		Overridables: func() nfpm.Overridables {
			o := relations(in.Arch)
			o.Contents = contents
			o.Scripts = scripts
			o.Deb.Compression = "xz"
			return o
		}(),
	}
	info = nfpm.WithDefaults(info)
	if err := info.Validate(); err != nil {
		return "", err
	}
	name := deb.Default.ConventionalFileName(info)
	out := filepath.Join(in.OutDir, name)
	f, err := renameio.NewPendingFile(out, renameio.WithPermissions(0o644))
	if err != nil {
		return "", err
	}
	defer f.Cleanup()
	if err := deb.Default.Package(info, f); err != nil {
		return "", err
	}
	return out, f.CloseAtomicallyReplace()
}

// stageContents writes the generated files under stage and lists every
// file of the package.
func stageContents(in debInput, stage string) (files.Contents, error) {
	var gen []generated
	for _, g := range []func() ([]generated, error){
		units,
		func() ([]generated, error) { return manPages(in.StampedVersion, in.MTime) },
		completions,
	} {
		more, err := g()
		if err != nil {
			return nil, err
		}
		gen = append(gen, more...)
	}
	fileInfo := func(mode fs.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: in.MTime}
	}
	var contents files.Contents
	for _, name := range binaries {
		contents = append(contents, &files.Content{
			Source: filepath.Join(in.BinDir, name), Destination: binDir + "/" + name, FileInfo: fileInfo(0o755),
		})
	}
	contents = append(contents, &files.Content{
		Source:      filepath.Join(in.SrcDir, hostConfigExample),
		Destination: "/etc/microvm/host.toml",
		Type:        files.TypeConfigNoReplace,
		FileInfo:    fileInfo(0o644),
	})
	for _, g := range gen {
		src := filepath.Join(stage, "root", filepath.FromSlash(g.Path))
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(src, g.Content, 0o644); err != nil {
			return nil, err
		}
		contents = append(contents, &files.Content{Source: src, Destination: g.Path, FileInfo: fileInfo(0o644)})
	}
	return contents, nil
}

// stageScripts writes the maintainer scripts under stage, for nfpm,
// which reads them by path.
func stageScripts(stage string) (nfpm.Scripts, error) {
	var s nfpm.Scripts
	for name, dst := range map[string]*string{"postinst": &s.PostInstall, "prerm": &s.PreRemove, "postrm": &s.PostRemove} {
		b, err := debian.ReadFile(path.Join("debian", name))
		if err != nil {
			return s, err
		}
		p := filepath.Join(stage, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			return s, fmt.Errorf("staging %s: %w", name, err)
		}
		*dst = p
	}
	return s, nil
}
