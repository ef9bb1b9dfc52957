package state

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// TestBadStateCorpus builds each testdata/bad-state/*.txtar as a state
// directory next to a good VM and checks that List reports the listed
// problems and still lists the good VM. The archive comment holds
// directives (see testdata/README.md): mkdir P, symlink P -> TARGET
// ($RUNNER is a valid runner, $STATE the state directory), problem: TEXT
// (must appear in some "NAME: problem" line), ok: NAME (listed, no problem).
func TestBadStateCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad-state/*.txtar")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			d := newDir(t)
			runnerDir := writeRunner(t, filepath.Join(t.TempDir(), "runner"), "true", "/nix/store/aaa-system")
			mustMkdir(t, d.VMPath("good"))
			if err := d.SetLink("good", CurrentLink, runnerDir); err != nil {
				t.Fatal(err)
			}
			for _, f := range ar.Files {
				p := filepath.Join(d.Root, f.Name)
				mustMkdir(t, filepath.Dir(p))
				if err := os.WriteFile(p, f.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			expand := strings.NewReplacer("$RUNNER", runnerDir, "$STATE", d.Root).Replace
			var problems, ignored, oks []string
			for _, line := range strings.Split(string(ar.Comment), "\n") {
				switch verb, arg, _ := strings.Cut(line, " "); verb {
				case "mkdir":
					mustMkdir(t, filepath.Join(d.Root, arg))
				case "symlink":
					p, target, ok := strings.Cut(arg, " -> ")
					if !ok {
						t.Fatalf("bad directive %q", line)
					}
					mustMkdir(t, filepath.Dir(filepath.Join(d.Root, p)))
					if err := os.Symlink(expand(target), filepath.Join(d.Root, p)); err != nil {
						t.Fatal(err)
					}
				case "chown":
					// chown P UID: as the VM user would have created it.
					if os.Geteuid() != 0 {
						t.Skip("chown needs root")
					}
					p, uid, _ := strings.Cut(arg, " ")
					n, err := strconv.Atoi(uid)
					if err != nil {
						t.Fatalf("bad directive %q", line)
					}
					if err := os.Lchown(filepath.Join(d.Root, p), n, n); err != nil {
						t.Fatal(err)
					}
				case "problem:":
					problems = append(problems, expand(arg))
				case "ignored:":
					ignored = append(ignored, expand(arg))
				case "ok:":
					oks = append(oks, arg)
				}
			}
			if len(problems)+len(ignored) == 0 {
				t.Fatal("case names no problem")
			}
			vms, err := d.List()
			if err != nil {
				t.Fatalf("List failed on a bad entry instead of reporting it: %v", err)
			}
			var report, ignoredReport strings.Builder
			listed := map[string]bool{}
			for _, vm := range vms {
				listed[vm.Name] = !vm.Broken()
				for _, p := range vm.Problems {
					report.WriteString(vm.Name + ": " + p + "\n")
				}
				for _, p := range vm.Ignored {
					ignoredReport.WriteString(vm.Name + ": " + p + "\n")
				}
			}
			for _, want := range ignored {
				if !strings.Contains(ignoredReport.String(), want) {
					t.Errorf("ignored records do not mention %q:\n%s", want, ignoredReport.String())
				}
			}
			for _, want := range problems {
				if !strings.Contains(report.String(), want) {
					t.Errorf("problems do not mention %q:\n%s", want, report.String())
				}
			}
			for _, name := range oks {
				if !listed[name] {
					t.Errorf("VM %q not listed as healthy next to the bad entry", name)
				}
			}
		})
	}
}
