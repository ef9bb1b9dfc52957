package spec

import (
	"path/filepath"

	"github.com/microvm-host/microvm/internal/oci/imageref"
)

// ResolvePaths makes kernel, initrd, a local image, volume bases and cloud-init's files absolute
// against specDir, the spec file's directory, so the spec no longer
// depends on where it was read.
// Sockets, volume images and share sources stay relative: they resolve
// against the VM directory at run time, as in microvm.nix.
func (s *Spec) ResolvePaths(specDir string) {
	s.Kernel = resolve(specDir, s.Kernel)
	s.Initrd = resolve(specDir, s.Initrd)
	if r, err := imageref.Parse(s.Image); err == nil && r.Local() {
		s.Image = r.Resolve(specDir).String()
	}
	for i := range s.Volumes {
		s.Volumes[i].Base = resolve(specDir, s.Volumes[i].Base)
	}
	if c := s.CloudInit; c != nil {
		c.UserDataFile = resolve(specDir, c.UserDataFile)
		c.NetworkConfigFile = resolve(specDir, c.NetworkConfigFile)
	}
}

// InputFile is a file whose content is part of the runner's version
// identity.
type InputFile struct {
	Option string // the option naming it, "kernel", "initrd" or "image", for messages
	Path   string // absolute
}

// Inputs returns the files whose content is part of the runner's version
// identity: kernel and, if set, initrd, resolved against specDir, and a
// local image's archive or layout index (oci-layout's blobs are named by
// their digests, so the index changes with any of them). Volume
// images are not inputs even when autoCreate is false: they live in the
// VM directory and are the VM's runtime data, so a guest writing to its
// disk must not make the runner look outdated. Share sources are runtime
// data for the same reason.
func (s *Spec) Inputs(specDir string) []InputFile {
	var in []InputFile
	for _, f := range []InputFile{{"kernel", s.Kernel}, {"initrd", s.Initrd}} {
		if f.Path != "" {
			in = append(in, InputFile{f.Option, resolve(specDir, f.Path)})
		}
	}
	if r, err := imageref.Parse(s.Image); err == nil && r.Local() {
		p := resolve(specDir, r.Path)
		if r.Transport == imageref.OCILayout {
			p = filepath.Join(p, "index.json")
		}
		in = append(in, InputFile{"image", p})
	}
	return in
}

// resolve returns p made absolute against dir; "" stays "". dir itself is
// made absolute against the working directory when it is relative.
func resolve(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}
