package oci

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MaxLayers bounds the layers of an image (Docker's limit is 127).
const MaxLayers = 256

// checkedImage is the image as flattening reads it (mutate.Extract asks
// only for its layers): each layer is checked against the digest the
// image's config gives for its content (diff_id), which makes the config
// digest a sound name for the flattened result, and scanned for entries
// that would leave the root.
type checkedImage struct {
	v1.Image
	layers []v1.Layer

	mu      sync.Mutex
	err     error           // the first problem a scan found
	reading *checkingReader // the layer being read
}

func (c *checkedImage) Layers() ([]v1.Layer, error) { return c.layers, nil }

// problem is the first problem found in any layer, if any: it explains a
// failure better than mutate.Extract's own error about the same entry.
func (c *checkedImage) problem() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// abort ends the scan of the layer being read, after it has looked at
// everything read from it: what it finds there explains the failure that
// made the flattening stop.
func (c *checkedImage) abort() {
	c.mu.Lock()
	r := c.reading
	c.mu.Unlock()
	if r != nil {
		r.endScan()
	}
}

func (c *checkedImage) report(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

func checkImage(img v1.Image) (*checkedImage, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	ids := cf.RootFS.DiffIDs
	switch {
	case len(layers) > MaxLayers:
		return nil, fmt.Errorf("the image has %d layers; at most %d are flattened", len(layers), MaxLayers)
	case len(ids) != len(layers):
		return nil, fmt.Errorf("the image's config lists %d layers (diff_ids), its manifest %d", len(ids), len(layers))
	}
	c := &checkedImage{Image: img}
	for i, l := range layers {
		if ids[i].Algorithm != "sha256" {
			return nil, fmt.Errorf("layer %d of %d: diff_id %s is not a sha256 digest", i+1, len(layers), ids[i])
		}
		c.layers = append(c.layers, &checkedLayer{Layer: l, img: c, name: fmt.Sprintf("layer %d of %d", i+1, len(layers)), diffID: ids[i]})
	}
	return c, nil
}

// checkedLayer is a layer whose content is hashed and scanned as it is
// read.
type checkedLayer struct {
	v1.Layer
	img    *checkedImage
	name   string
	diffID v1.Hash
}

func (l *checkedLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	pr, pw := io.Pipe()
	r := &checkingReader{rc: rc, layer: l, hash: sha256.New(), pw: pw, scanned: make(chan struct{})}
	l.img.mu.Lock()
	l.img.reading = r
	l.img.mu.Unlock()
	go func() {
		if err := scanLayer(pr); err != nil && !errors.Is(err, errAborted) {
			l.img.report(fmt.Errorf("%s: %w", l.name, err))
		}
		// Keep reading: the writer must never block on a scan that
		// stopped.
		io.Copy(io.Discard, pr)
		close(r.scanned)
	}()
	return r, nil
}

// errAborted ends a scan whose layer was closed before its end: the
// flattening failed for another reason.
var errAborted = errors.New("flattening aborted")

// checkingReader passes a layer's content on, to the hash and to the scan.
type checkingReader struct {
	rc      io.ReadCloser
	layer   *checkedLayer
	hash    hash.Hash
	pw      *io.PipeWriter
	scanned chan struct{}
	ended   sync.Once
}

func (r *checkingReader) Read(p []byte) (int, error) {
	if err := r.layer.img.problem(); err != nil {
		return 0, err
	}
	n, err := r.rc.Read(p)
	if n > 0 {
		r.hash.Write(p[:n])
		r.pw.Write(p[:n])
	}
	if errors.Is(err, io.EOF) {
		r.pw.Close()
		<-r.scanned
		if perr := r.layer.img.problem(); perr != nil {
			return n, perr
		}
		if got := "sha256:" + hex.EncodeToString(r.hash.Sum(nil)); got != r.layer.diffID.String() {
			err := fmt.Errorf("%s: its content is %s, but the image's config says %s (diff_id): the image is corrupt or was tampered with", r.layer.name, got, r.layer.diffID)
			r.layer.img.report(err)
			return n, err
		}
	}
	return n, err
}

// Close ends the scan and waits for it, so that what it found is known
// when the flattening fails.
func (r *checkingReader) Close() error {
	r.endScan()
	return r.rc.Close()
}

// endScan stops the scan once it has looked at what was read so far.
func (r *checkingReader) endScan() {
	r.ended.Do(func() { r.pw.CloseWithError(errAborted) })
	<-r.scanned
}

// scanLayer refuses a layer with an entry that would leave the image's
// root: a name with "..", a hard link to a file outside, or an entry
// below a symbolic link of the same layer, which a plain tar extraction
// would write wherever the link points (an absolute link to /etc, say).
// mutate.Extract drops some of these silently; they are refused here, as
// no honest image has them.
func scanLayer(r io.Reader) error {
	tr := tar.NewReader(r)
	links := map[string]string{} // symlinks of this layer: name → target
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the layer: %w", err)
		}
		name, ok := inRoot(h.Name)
		if !ok {
			return fmt.Errorf("entry %q leaves the image's root (..)", h.Name)
		}
		if l, t, ok := belowLink(links, name); ok {
			return fmt.Errorf("entry %q is below %q, a symbolic link to %q: writing it would follow the link out of place", h.Name, l, t)
		}
		switch h.Typeflag {
		case tar.TypeSymlink:
			links[name] = h.Linkname
		case tar.TypeLink:
			target, ok := inRoot(h.Linkname)
			if !ok {
				return fmt.Errorf("hard link %q points outside the image's root, at %q", h.Name, h.Linkname)
			}
			if l, t, ok := belowLink(links, target); ok {
				return fmt.Errorf("hard link %q points at %q, below %q, a symbolic link to %q", h.Name, h.Linkname, l, t)
			}
		}
	}
}

// inRoot cleans an entry name relative to the root ("/a/./b" is "a/b",
// "" and "/" are "."), and reports whether it stays inside.
func inRoot(name string) (string, bool) {
	clean := path.Clean(strings.ReplaceAll(name, "\\", "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	// A leading "/" is the image's root, as tar strips it.
	if clean = strings.TrimPrefix(clean, "/"); clean == "" {
		clean = "."
	}
	return clean, true
}

// belowLink finds a symlink among name's parents.
func belowLink(links map[string]string, name string) (link, target string, ok bool) {
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		if t, found := links[d]; found {
			return d, t, true
		}
	}
	return "", "", false
}
