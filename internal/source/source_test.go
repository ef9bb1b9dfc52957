package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/state"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	mk := func(p string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o755)
	}
	mk("runner/bin/microvm-run")
	mk("specs/vm.toml")
	mk("flake/flake.nix")
	mk("other/README")
	mk("file.txt")
	t.Chdir(dir)

	for _, tc := range []struct {
		arg  string
		want state.Source
	}{
		{"runner", state.Source{Kind: state.SourceRunner, Ref: filepath.Join(dir, "runner")}},
		{"./runner/", state.Source{Kind: state.SourceRunner, Ref: filepath.Join(dir, "runner")}},
		{"specs/vm.toml", state.Source{Kind: state.SourceSpec, Ref: filepath.Join(dir, "specs/vm.toml")}},
		{"specs", state.Source{Kind: state.SourceSpec, Ref: filepath.Join(dir, "specs/vm.toml")}},
		{"flake", state.Source{Kind: state.SourceFlake, Ref: filepath.Join(dir, "flake")}},
		{"git+file:///etc/nixos", state.Source{Kind: state.SourceFlake, Ref: "git+file:///etc/nixos"}},
		{"github:owner/repo", state.Source{Kind: state.SourceFlake, Ref: "github:owner/repo"}},
	} {
		got, err := Parse(tc.arg, "vm")
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.arg, got, err, tc.want)
		}
	}
	for arg, want := range map[string]string{
		"other":            "expected a runner package (bin/microvm-run), a spec file (vm.toml) or a flake (flake.nix)",
		"file.txt":         "not a directory or a .toml spec file",
		"missing":          "no such file or directory",
		"./missing:thing":  "no such file or directory",
		"github:x/y#attrs": "no such file or directory",
	} {
		if _, err := Parse(arg, "vm"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", arg, err, want)
		}
	}
}
