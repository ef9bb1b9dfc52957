package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/microvm-host/microvm/internal/cloudinit"
	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/spec"
)

// BuildFile records how a generated runner was built: enough to tell,
// without rebuilding, whether its spec would build something else now.
const BuildFile = "build.json"

// Build is the content of share/microvm/build.json.
type Build struct {
	Spec     string           `json:"spec"` // absolute path of the spec file
	Microvm  string           `json:"microvm"`
	Facts    hypervisor.Facts `json:"facts"` // with the probed hypervisor release
	Inputs   []Input          `json:"inputs"`
	Identity string           `json:"identity"`

	// Hypervisor is the generator's name; Binary is what bin/microvm-run
	// execs (an absolute path, or a name looked up on PATH).
	Hypervisor string `json:"hypervisor,omitempty"`
	Binary     string `json:"binary,omitempty"`
	// Requires are the hypervisor releases the runner works with: the
	// generator's oldest supported one and what the command line needs.
	// Newest is the newest release the generator was checked against.
	Requires hypervisor.Versions `json:"requires,omitzero"`
	Newest   hypervisor.Version  `json:"newest,omitzero"`
	// Notes are what the runner cannot do on this host, as build said.
	Notes []string `json:"notes,omitempty"`
	// CloudInit is set when the runner attaches a cloud-init seed.
	CloudInit *CloudInit `json:"cloudInit,omitempty"`
	// Image is set for an image VM.
	Image *Image `json:"image,omitempty"`
	// Opens are the host files the hypervisor opens itself.
	Opens []Open `json:"opens,omitempty"`
}

// Input is a file the runner depends on (kernel, initrd) with its content
// hash; size and mtime let a later check skip re-hashing unchanged files.
type Input struct {
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	Mtime  time.Time `json:"mtime"`
	SHA256 string    `json:"sha256"`
}

// identityVersion changes whenever generated runners change for the same
// inputs, so that every VM built by an older generator is outdated.
const identityVersion = "microvm-generate/3"

// identity is the version of a generated runner: a hash of everything
// that goes into it, the cloud-init seed's content included (by its
// hash: a seed file that changed makes the runner outdated). Its short
// form names the guest system in share/microvm/system, which list
// compares.
func identity(s *spec.Spec, gen string, facts hypervisor.Facts, microvm string, inputs []Input, seed *cloudinit.Seed, img *Image) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, v := range []any{identityVersion, gen, facts, microvm, s} {
		if err := enc.Encode(v); err != nil {
			return "", err
		}
	}
	for _, in := range inputs {
		io.WriteString(h, in.Path+"\x00"+in.SHA256+"\n")
	}
	if seed != nil {
		// Only with a seed: runners without one keep their identity.
		io.WriteString(h, "cloud-init\x00"+seed.SHA256()+"\n")
	}
	if err := hashImage(h, img); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SystemName is what share/microvm/system points at for a runner with
// this identity: the VM name and a short hash, readable in list.
func SystemName(name, identity string) string { return name + "-" + identity[:32] }

// digestInputs hashes the input files; entries of prev whose path, size
// and mtime still match are reused without reading the file. Each must be
// a regular file: /dev/zero or a FIFO would make the build read forever,
// or block in open. Hashing stops when ctx is cancelled (Ctrl-C, SIGTERM).
func digestInputs(ctx context.Context, files []spec.InputFile, prev []Input) ([]Input, error) {
	known := map[string]Input{}
	for _, in := range prev {
		known[in.Path] = in
	}
	out := make([]Input, 0, len(files))
	for _, in := range files {
		fi, err := os.Stat(in.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Option, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s %q is %s; expected a regular file", in.Option, in.Path, printable.FileKind(fi.Mode()))
		}
		if k, ok := known[in.Path]; ok && k.Size == fi.Size() && k.Mtime.Equal(fi.ModTime()) {
			out = append(out, k)
			continue
		}
		sum, err := fileSHA256(ctx, in, fi)
		if err != nil {
			return nil, err
		}
		out = append(out, Input{Path: in.Path, Size: fi.Size(), Mtime: fi.ModTime().UTC(), SHA256: sum})
	}
	return out, nil
}

// fileSHA256 hashes the regular file in, which was stat'ed as fi.
func fileSHA256(ctx context.Context, in spec.InputFile, fi os.FileInfo) (string, error) {
	// O_NONBLOCK: if a FIFO replaced the file since the stat, open must
	// not wait for a writer. It changes nothing for a regular file.
	f, err := os.OpenFile(in.Path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("%s: %w", in.Option, err)
	}
	defer f.Close()
	if got, err := f.Stat(); err != nil || !os.SameFile(fi, got) {
		return "", fmt.Errorf("%s %q changed while being read; expected a regular file", in.Option, in.Path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("hashing %s %q: %w", in.Option, in.Path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading once ctx is done: a kernel image is read in
// chunks of io.Copy's buffer, so cancellation is noticed within one.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ReadBuild reads a generated runner's build record; ok is false for
// runners that were not generated (no record).
func ReadBuild(runnerDir string) (b Build, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(runnerDir, "share/microvm", BuildFile))
	if errors.Is(err, os.ErrNotExist) {
		return Build{}, false, nil
	}
	if err != nil {
		return Build{}, false, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return Build{}, false, fmt.Errorf("%s: %w", BuildFile, err)
	}
	return b, true, nil
}

// ExpectedSystem is the share/microvm/system target a build of s would
// get now, computed without building: the spec is parsed anyway, and
// inputs unchanged since prev (same size and mtime) are not re-hashed.
// This is what makes list's outdated check cheap for spec sources. img is
// the image the earlier build resolved: resolving it again may need the
// network; a local image that changed shows in its input file.
func ExpectedSystem(ctx context.Context, s *spec.Spec, gen string, facts hypervisor.Facts, microvm, specPath string, prev []Input, img *Image) (string, error) {
	inputs, err := digestInputs(ctx, s.Inputs(filepath.Dir(specPath)), prev)
	if err != nil {
		return "", err
	}
	seed, err := Seed(s, ReadSeedFile)
	if err != nil {
		return "", err
	}
	if s.Image == "" {
		img = nil
	} else if img == nil || img.Ref != s.Image {
		// Built without this image: whatever it resolves to now differs.
		img = &Image{Ref: s.Image}
	}
	id, err := identity(s, gen, facts, microvm, inputs, seed, img)
	if err != nil {
		return "", err
	}
	return SystemName(s.Name, id), nil
}
