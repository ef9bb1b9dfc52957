package oci

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/microvm-host/microvm/internal/oci/imageref"
)

// refNameAnnotation names an image in an OCI layout's index.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// Platform is the platform of the images this host boots: its own, since
// VMs run the host's architecture.
func Platform() v1.Platform {
	return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// open opens the image r names. A registry image is pulled with the
// credentials of the usual helpers (~/.docker/config.json, docker
// credential helpers: authn.DefaultKeychain); pinned, when set, is the
// manifest digest to pull instead of what the tag says now.
func open(ctx context.Context, r imageref.Ref, pinned string) (v1.Image, error) {
	switch r.Transport {
	case imageref.DockerArchive:
		var tag *name.Tag
		if r.Tag != "" {
			t, err := name.NewTag(r.Tag)
			if err != nil {
				return nil, err
			}
			tag = &t
		}
		img, err := tarball.ImageFromPath(r.Path, tag)
		if err != nil {
			return nil, fmt.Errorf("reading docker archive %q: %w", r.Path, err)
		}
		return img, nil
	case imageref.OCILayout:
		return openLayout(r)
	}
	ref, err := name.ParseReference(r.Name)
	if err != nil {
		return nil, err
	}
	if pinned != "" {
		d, err := name.NewDigest(ref.Context().Name() + "@" + pinned)
		if err != nil {
			return nil, err
		}
		ref = d
	}
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithPlatform(Platform()))
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	return img, nil
}

// openLayout finds the image in an OCI layout: the one whose ref.name is
// r.Tag, or the only one. An index in the layout (a multi-platform image)
// is resolved to this host's platform.
func openLayout(r imageref.Ref) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(r.Path)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", r.Path, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", r.Path, err)
	}
	var found []v1.Descriptor
	var names []string
	for _, d := range m.Manifests {
		n := d.Annotations[refNameAnnotation]
		names = append(names, fmt.Sprintf("%q", n))
		if r.Tag == "" || n == r.Tag {
			found = append(found, d)
		}
	}
	switch {
	case len(found) == 0 && r.Tag != "":
		return nil, fmt.Errorf("OCI layout %q has no image named %q; it has %v", r.Path, r.Tag, names)
	case len(found) == 0:
		return nil, fmt.Errorf("OCI layout %q holds no image", r.Path)
	case len(found) > 1:
		return nil, fmt.Errorf("OCI layout %q holds %d images (%v); name one as oci-layout:DIR:TAG", r.Path, len(found), names)
	}
	d := found[0]
	if d.MediaType.IsImage() {
		return idx.Image(d.Digest)
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("OCI layout %q: %s is a %s, not an image", r.Path, d.Digest, d.MediaType)
	}
	child, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := Platform()
	for _, c := range cm.Manifests {
		if c.Platform != nil && c.Platform.Satisfies(want) && c.MediaType.IsImage() {
			return child.Image(c.Digest)
		}
	}
	return nil, errors.New("OCI layout " + fmt.Sprintf("%q", r.Path) + " has no image for " + want.String())
}
