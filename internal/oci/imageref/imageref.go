// Package imageref parses the references of OCI images a spec's image
// names. It is apart from package oci, which reads the images, so that
// the spec can check a reference without depending on the rest.
package imageref

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Transports of an image reference, as in skopeo.
const (
	DockerArchive = "docker-archive" // docker-archive:FILE[:NAME:TAG], `docker save`'s tar
	OCILayout     = "oci-layout"     // oci-layout:DIR[:TAG], an OCI image layout directory
	Registry      = "registry"       // any other reference, pulled: alpine:3.20, ghcr.io/o/i@sha256:…
)

// Ref is a parsed image reference.
type Ref struct {
	Transport string
	// Path is the archive file or layout directory.
	Path string
	// Tag picks one image: in a docker-archive by its repository tag
	// (NAME:TAG), in an OCI layout by its org.opencontainers.image.ref.name
	// annotation. "" when the archive or layout holds a single image.
	Tag string
	// Name is the registry reference.
	Name string
}

// refHelp is what a reference should look like, for errors.
const refHelp = "expected docker-archive:FILE, oci-layout:DIR[:TAG] or a registry reference like docker.io/library/alpine:3.20"

// Parse parses an image reference; relative paths stay relative (see
// Ref.Resolve).
func Parse(s string) (Ref, error) {
	switch {
	case s == "":
		return Ref{}, fmt.Errorf("empty; %s", refHelp)
	case strings.HasPrefix(s, DockerArchive+":"):
		path, tag, _ := strings.Cut(strings.TrimPrefix(s, DockerArchive+":"), ":")
		if path == "" {
			return Ref{}, fmt.Errorf("%q names no file; expected docker-archive:FILE, the tar `docker save` writes", s)
		}
		if tag != "" {
			if _, err := name.NewTag(tag); err != nil {
				return Ref{}, fmt.Errorf("%q: %q is not an image tag (%v); expected docker-archive:FILE:NAME:TAG to pick one of several images", s, tag, err)
			}
		}
		return Ref{Transport: DockerArchive, Path: path, Tag: tag}, nil
	case strings.HasPrefix(s, OCILayout+":"):
		path, tag, _ := strings.Cut(strings.TrimPrefix(s, OCILayout+":"), ":")
		if path == "" {
			return Ref{}, fmt.Errorf("%q names no directory; expected oci-layout:DIR[:TAG]", s)
		}
		return Ref{Transport: OCILayout, Path: path, Tag: tag}, nil
	}
	ref := strings.TrimPrefix(s, "docker://")
	if _, err := name.ParseReference(ref); err != nil {
		return Ref{}, fmt.Errorf("%q is not an image reference (%v); %s", s, err, refHelp)
	}
	return Ref{Transport: Registry, Name: ref}, nil
}

// String is the reference as Parse reads it.
func (r Ref) String() string {
	if r.Transport == Registry {
		return r.Name
	}
	s := r.Transport + ":" + r.Path
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	return s
}

// Local reports whether the image is a file or directory of this host.
func (r Ref) Local() bool { return r.Transport != Registry }

// Resolve makes a local reference's path absolute against dir.
func (r Ref) Resolve(dir string) Ref {
	if r.Local() && !filepath.IsAbs(r.Path) {
		r.Path = filepath.Join(dir, r.Path)
	}
	return r
}
