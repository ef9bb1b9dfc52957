package runner

import (
	"bytes"
	stdcmp "cmp"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rogpeppe/go-internal/txtar"
)

// corpusCase is one testdata archive built on disk; see testdata/README.md.
type corpusCase struct {
	root     string   // the runner package
	load     string   // what to pass to Load
	errs     []string // substrings the error must contain
	errCount int      // exact number of *Error values; -1 = any
	want     []byte   // the expected Runner as JSON, for good cases
}

func buildCase(t *testing.T, file string) corpusCase {
	t.Helper()
	a, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "runner")
	ext := t.TempDir()
	expand := func(s string) string { return strings.ReplaceAll(s, "$EXT", ext) }
	c := corpusCase{root: root, load: root, errCount: -1}
	mkdir(t, root)
	for _, f := range a.Files {
		switch {
		case f.Name == "$WANT":
			c.want = []byte(expand(string(f.Data)))
		case strings.HasPrefix(f.Name, "$EXT/"):
			writeTestFile(t, expand(f.Name), f.Data, 0o755)
		default:
			mode := os.FileMode(0o644)
			if strings.HasPrefix(f.Name, "bin/") {
				mode = 0o755
			}
			writeTestFile(t, filepath.Join(root, f.Name), f.Data, mode)
		}
	}
	for i, line := range strings.Split(string(a.Comment), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		arg = expand(strings.TrimSpace(arg))
		in := func(p string) string { return filepath.Join(root, p) }
		switch verb {
		case "error:":
			c.errs = append(c.errs, arg)
		case "errors:":
			if c.errCount, err = strconv.Atoi(arg); err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
		case "chmod":
			mode, p, _ := strings.Cut(arg, " ")
			m, err := strconv.ParseUint(mode, 8, 32)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			if err := os.Chmod(in(p), os.FileMode(m)); err != nil {
				t.Fatal(err)
			}
		case "symlink":
			p, target, ok := strings.Cut(arg, " -> ")
			if !ok {
				t.Fatalf("%s:%d: want symlink PATH -> TARGET", file, i+1)
			}
			mkdir(t, filepath.Dir(in(p)))
			if err := os.Symlink(target, in(p)); err != nil {
				t.Fatal(err)
			}
		case "mkdir":
			mkdir(t, in(arg))
		case "mkfifo":
			mkdir(t, filepath.Dir(in(arg)))
			if err := syscall.Mkfifo(in(arg), 0o644); err != nil {
				t.Fatal(err)
			}
		case "remove":
			if err := os.RemoveAll(in(arg)); err != nil {
				t.Fatal(err)
			}
		case "write":
			p, quoted, _ := strings.Cut(arg, " ")
			data, err := strconv.Unquote(quoted)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			writeTestFile(t, in(p), []byte(data), 0o644)
		case "load":
			c.load = in(arg)
		default:
			t.Fatalf("%s:%d: unknown directive %q", file, i+1, line)
		}
	}
	return c
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeTestFile(t *testing.T, name string, data []byte, mode os.FileMode) {
	t.Helper()
	mkdir(t, filepath.Dir(name))
	if err := os.WriteFile(name, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // the umask must not matter
		t.Fatal(err)
	}
}

func archives(t *testing.T, dir string) []string {
	files, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no archives in %s: %v", dir, err)
	}
	return files
}

// leaves flattens a Load error into its *Error values, failing on
// anything else: callers rely on every problem having a path and line.
func leaves(t *testing.T, err error) []*Error {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []*Error
	for _, e := range errs {
		var re *Error
		if !errors.As(e, &re) || re != e {
			t.Errorf("error %v is a %T; want *Error", e, e)
			continue
		}
		if filepath.IsAbs(re.Path) {
			t.Errorf("error %q has an absolute path", re)
		}
		out = append(out, re)
	}
	return out
}

func TestLoadBad(t *testing.T) {
	files := archives(t, "testdata/bad")
	if len(files) < 25 {
		t.Errorf("only %d bad archives; want at least 25", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			c := buildCase(t, file)
			if len(c.errs) == 0 {
				t.Fatal("archive has no error: directive")
			}
			r, err := Load(c.load)
			if err == nil {
				t.Fatalf("Load succeeded: %+v", r)
			}
			if r != nil {
				t.Errorf("Load returned a runner with an error")
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range c.errs {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q; got:\n%s", want, msg)
				}
			}
			got := leaves(t, err)
			if c.errCount >= 0 && len(got) != c.errCount {
				t.Errorf("got %d errors, want %d:\n%s", len(got), c.errCount, msg)
			}
			// Problems read like a compiler's: by file, then line.
			if !slices.IsSortedFunc(got, func(a, b *Error) int {
				return stdcmp.Or(strings.Compare(a.Path, b.Path), stdcmp.Compare(a.Line, b.Line))
			}) {
				t.Errorf("errors are not sorted by file and line:\n%s", msg)
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	for _, file := range archives(t, "testdata/good") {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			c := buildCase(t, file)
			r, err := Load(c.load)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if r.Dir != c.root {
				t.Errorf("Dir = %q, want %q", r.Dir, c.root)
			}
			if c.want == nil {
				return
			}
			var want Runner
			dec := json.NewDecoder(bytes.NewReader(c.want))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("$WANT: %v", err)
			}
			if diff := cmp.Diff(&want, r, cmpopts.IgnoreFields(Runner{}, "Dir"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
