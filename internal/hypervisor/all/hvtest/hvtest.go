// Package hvtest runs golden tests of hypervisor generators: a shared set
// of spec cases, each rendered into testdata/<case>.args (one argv element
// per line, the runner marker shown as "$RUNNER/"), <case>.meta (the other
// Command fields), one file per Command.Files entry named by its extension
// (<case>.json), or <case>.err when the generator refuses the case; and
// CheckCaps checks that a generator's Caps tell the truth about its Command.
// `go test -update` rewrites them.
package hvtest

import (
	"encoding/json"
	"flag"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/spec"
)

// Update is the -update flag of every test binary importing this package.
var Update = flag.Bool("update", false, "rewrite golden files in testdata")

// X86 are the facts most cases use: x86_64 under TCG, with io_uring, and
// no hypervisor binary found (so generators write for their Caps.Newest).
var X86 = hypervisor.Facts{Arch: "x86_64", TSCKHz: 2000000, IOUring: true}

// Case is one spec to generate a command line for.
type Case struct {
	Name  string
	Spec  func(*spec.Spec) // edits Base() before defaults are applied
	Facts *hypervisor.Facts
}

// Run generates every case with g and compares the result with the golden
// files in testdata; it also fails on golden files no case produced.
func Run(t *testing.T, g hypervisor.Generator, cases []Case) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range cases {
		names[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			s := Base()
			if c.Spec != nil {
				c.Spec(s)
			}
			s.ApplyDefaults()
			f := X86
			if c.Facts != nil {
				f = *c.Facts
			}
			before := clone(t, s)
			cmd, err := g.Command(s, f)
			if diff := cmp.Diff(before, s); diff != "" {
				t.Errorf("Command modified the spec (-before +after):\n%s", diff)
			}
			again, err2 := g.Command(s, f)
			if diff := cmp.Diff(cmd, again); diff != "" || (err == nil) != (err2 == nil) {
				t.Errorf("Command is not deterministic:\n%s", diff)
			}
			Golden(t, c.Name, cmd, err)
		})
	}
	if *Update {
		return
	}
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if base, _, _ := strings.Cut(e.Name(), "."); !names[base] {
			t.Errorf("testdata/%s: no case %q produces it; remove it", e.Name(), base)
		}
	}
}

// Golden compares a generator's result with testdata/<name>.*.
func Golden(t *testing.T, name string, cmd *hypervisor.Command, err error) {
	t.Helper()
	want := map[string]string{} // extension → content
	if err != nil {
		want[".err"] = err.Error() + "\n"
	} else {
		want[".args"] = Args(cmd.Argv)
		want[".meta"] = Meta(cmd)
		for _, f := range cmd.Files {
			want[path.Ext(f.Path)] = string(f.Content)
		}
	}
	for _, ext := range []string{".args", ".meta", ".json", ".err"} {
		file := filepath.Join("testdata", name+ext)
		content, ok := want[ext]
		delete(want, ext)
		if *Update {
			if ok {
				if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Remove(file); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			continue
		}
		got, rerr := os.ReadFile(file)
		switch {
		case !ok && rerr == nil:
			t.Errorf("%s exists, but the case produced none (run go test -update)", file)
		case ok && rerr != nil:
			t.Errorf("%v (run go test -update)", rerr)
		case ok:
			if diff := cmp.Diff(string(got), content); diff != "" {
				t.Errorf("%s differs (-golden +generated):\n%s", file, diff)
			}
		}
	}
	for ext := range want {
		t.Errorf("generated a %s file, which hvtest does not know", ext)
	}
}

// Args renders argv one element per line, the runner marker as "$RUNNER/"
// and a macvtap's device as "$(macvtap ID)".
func Args(argv []string) string {
	var b strings.Builder
	for _, a := range argv {
		for i, part := range hypervisor.SplitMacvtapDevices(strings.ReplaceAll(a, hypervisor.RunnerFile, "$RUNNER/")) {
			if i%2 == 1 {
				part = "$(macvtap " + part + ")"
			}
			b.WriteString(part)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Meta renders the Command fields other than Argv and file contents.
func Meta(c *hypervisor.Command) string {
	var macvtaps, files []string
	for _, m := range c.MacvtapFDs {
		fds := make([]string, len(m.FDs))
		for i, fd := range m.FDs {
			fds[i] = strconv.Itoa(fd)
		}
		macvtaps = append(macvtaps, m.ID+"="+strings.Join(fds, ","))
	}
	for _, f := range c.Files {
		files = append(files, f.Path)
	}
	lines := [][2]string{
		{"shutdown", strings.TrimSpace(c.Shutdown + " " + c.ShutdownSocket)},
		{"balloon", strings.TrimSpace(c.Balloon + " " + c.BalloonSocket)},
		{"tapMultiQueue", strconv.FormatBool(c.TapMultiQueue)},
		{"supportsNotifySocket", strconv.FormatBool(c.SupportsNotifySocket)},
		{"macvtapFDs", strings.Join(macvtaps, " ")},
		{"removeBeforeStart", strings.Join(c.RemoveBeforeStart, " ")},
		{"homeIsVMDir", strconv.FormatBool(c.HomeIsVMDir)},
		{"env", strings.Join(c.Env, " ")},
		{"files", strings.Join(files, " ")},
		{"controlBinary", c.ControlBinary},
		{"needsTerminal", strconv.FormatBool(c.NeedsTerminal)},
		{"requires", requires(c.Requires)},
	}
	for _, n := range c.Notes {
		lines = append(lines, [2]string{"note", n})
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimSpace(l[0]+": "+l[1]) + "\n")
	}
	return b.String()
}

func requires(r hypervisor.Versions) string {
	if r == (hypervisor.Versions{}) {
		return ""
	}
	return r.String()
}

// clone deep-copies s, to check that Command leaves its spec alone.
func clone(t *testing.T, s *spec.Spec) *spec.Spec {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c spec.Spec
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}
