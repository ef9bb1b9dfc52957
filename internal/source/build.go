package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/hostfacts"
	"github.com/microvm-host/microvm/internal/state"
)

// Builder builds runner packages from sources.
type Builder struct {
	Nix    string    // the nix command; "" when nix is not installed
	Stderr io.Writer // build logs go here
	// Microvm is the microvm binary generated runners call.
	Microvm string
	// KVM is the hostfacts KVM mode for spec builds; CacheDir keeps
	// probe results.
	KVM      string
	CacheDir string
	// Init is the init of image VMs; "" means $MICROVM_INIT or
	// microvm-init next to Microvm.
	Init string
}

// NewBuilder finds nix on PATH and this binary.
func NewBuilder(stderr io.Writer) *Builder {
	nix, _ := exec.LookPath("nix")
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		self = "microvm"
	}
	return &Builder{Nix: nix, Stderr: stderr, Microvm: self, KVM: hostfacts.KVMAuto, CacheDir: hostfacts.CacheDir()}
}

// Build produces the runner for the VM name from src and returns its
// directory. workDir is scratch space owned by the caller (nix's result
// link goes there).
func (b *Builder) Build(ctx context.Context, src state.Source, name, workDir string) (string, error) {
	switch src.Kind {
	case state.SourceRunner:
		// The recorded source may be a link (nix's result): it stays
		// recorded as such, so update follows a rebuild, while the
		// runner installed is what it resolves to now.
		dir, err := filepath.EvalSymlinks(src.Ref)
		if err != nil {
			return "", fmt.Errorf("runner source %q: %w", src.Ref, err)
		}
		return dir, nil
	case state.SourceSpec:
		return b.buildSpec(ctx, src.Ref, name, filepath.Join(workDir, "runner"))
	case state.SourceFlake:
		if b.Nix == "" {
			return "", fmt.Errorf("source %q is a flake, and building it needs nix, which is not installed; pass a runner directory with --from instead", src.Ref)
		}
		out := filepath.Join(workDir, "result")
		attr := src.Ref + "#nixosConfigurations." + name + ".config.microvm.declaredRunner"
		if err := b.nix(ctx, b.Stderr, "build", "--out-link", out, attr); err != nil {
			return "", err
		}
		dir, err := filepath.EvalSymlinks(out)
		if err != nil {
			return "", fmt.Errorf("nix build %s: %w", attr, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("unknown source kind %q", src.Kind)
}

// Expected is what a source would build now, in the two forms a runner is
// compared by: the guest system it names, and for runners without one the
// runner itself: a Nix store path, or the content hash of a directory that
// would be imported into the state store.
type Expected struct {
	System string
	Runner string // Nix store path
	Hash   string // state store content hash
}

// Expect computes what src would build for the VM name without building
// it. withSystem says whether the system link is what to compare (the
// current runner has one).
func (b *Builder) Expect(ctx context.Context, src state.Source, name, current string, withSystem bool) (Expected, error) {
	switch src.Kind {
	case state.SourceSpec:
		sys, err := b.expectSpec(ctx, src.Ref, name, current)
		return Expected{System: sys}, err
	case state.SourceRunner:
		dir, err := filepath.EvalSymlinks(src.Ref)
		if err != nil {
			return Expected{}, fmt.Errorf("runner source %q: %w", src.Ref, err)
		}
		if withSystem {
			t, err := os.Readlink(filepath.Join(dir, "share/microvm/system"))
			if err == nil {
				return Expected{System: t}, nil
			}
		}
		if state.InNixStore(dir) {
			return Expected{Runner: dir}, nil // linked as it is, like a flake's
		}
		// Bounded: list must stay prompt whatever the source holds.
		h, err := state.HashBounded(ctx, dir)
		if err != nil {
			return Expected{}, err
		}
		return Expected{Hash: h}, nil
	case state.SourceFlake:
		if b.Nix == "" {
			return Expected{}, fmt.Errorf("cannot evaluate flake %q: nix is not installed", src.Ref)
		}
		attr := src.Ref + "#nixosConfigurations." + name + ".config."
		if withSystem {
			attr += "system.build.toplevel"
		} else {
			attr += "microvm.declaredRunner.outPath"
		}
		var out bytes.Buffer
		if err := b.nix(ctx, &out, "--option", "narinfo-cache-negative-ttl", "10", "eval", "--raw", attr); err != nil {
			return Expected{}, err
		}
		if withSystem {
			return Expected{System: out.String()}, nil
		}
		return Expected{Runner: out.String()}, nil
	}
	return Expected{}, fmt.Errorf("unknown source kind %q", src.Kind)
}

// nix runs nix with args; failures carry the argv and what nix said.
func (b *Builder) nix(ctx context.Context, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, b.Nix, args...)
	var stderr bytes.Buffer
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(&stderr, b.Stderr)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", b.Nix, strings.Join(args, " "), err, lastLine(stderr.String()))
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
