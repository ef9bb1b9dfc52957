package systemd

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/supervisor"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.service and *.target")

// goldenCases are rendered into testdata/NAME/.
var goldenCases = []struct {
	name string
	opts Options
}{
	{"default", Options{Microvm: "/usr/bin/microvm"}},
	{"autostart", Options{
		Microvm:      "/opt/micro vm/bin/microvm",
		StateDir:     "/var/lib/micro vms",
		Autostart:    []string{"a", "b"},
		StartTimeout: 5 * time.Minute,
		StopTimeout:  1500 * time.Millisecond,
		Restart:      "on-failure",
		RestartDelay: 250 * time.Millisecond,
		// host.toml's restartBurst and restartWindow.
		StartLimitBurst:    3,
		StartLimitInterval: time.Minute,
	}},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			units, err := Render(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(units) != len(Names) {
				t.Fatalf("got %d units, want %d", len(units), len(Names))
			}
			dir := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for i, u := range units {
				if u.Name != Names[i] {
					t.Errorf("unit %d is %q, want %q", i, u.Name, Names[i])
				}
				file := filepath.Join(dir, u.Name)
				if *update {
					if err := os.WriteFile(file, u.Content, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if string(u.Content) != string(want) {
					t.Errorf("%s differs from %s:\n%s", u.Name, file, u.Content)
				}
			}
		})
	}
}

func TestRenderDeterministic(t *testing.T) {
	o := goldenCases[1].opts
	a, _ := Render(o)
	b, _ := Render(o)
	for i := range a {
		if string(a[i].Content) != string(b[i].Content) {
			t.Errorf("%s: two renders differ", a[i].Name)
		}
	}
}

func TestRenderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no binary", Options{}, "microvm binary"},
		{"relative binary", Options{Microvm: "bin/microvm"}, "not an absolute path"},
		{"relative state", Options{Microvm: "/m", StateDir: "state"}, "not an absolute path"},
		{"newline", Options{Microvm: "/m", StateDir: "/a\nExecStartPre=/evil"}, "newline"},
		{"trailing slash", Options{Microvm: "/m", StateDir: "/var/lib/microvms/"}, "trailing"},
		{"bad user", Options{Microvm: "/m", User: "a b"}, "user"},
		{"bad autostart", Options{Microvm: "/m", Autostart: []string{"a.b"}}, "autostart"},
		{"negative timeout", Options{Microvm: "/m", StopTimeout: -time.Second}, "negative"},
		{"negative restart delay", Options{Microvm: "/m", RestartDelay: -time.Second}, "negative"},
		{"negative burst", Options{Microvm: "/m", StartLimitBurst: -1}, "start limit burst -1"},
		{"bad restart", Options{Microvm: "/m", Restart: "sometimes"}, `restart "sometimes": expected always, on-failure or no`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render: error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDefaultsAreTheDaemons: a host without host.toml gets the same
// restart policy from systemd as from the daemon, as far as systemd 252
// can say it (no backoff: RestartSteps= came with 254), except the mode:
// the daemon's on-failure relies on telling a guest's reboot from its
// power-off, which a unit cannot, so the units default to always.
func TestDefaultsAreTheDaemons(t *testing.T) {
	p := supervisor.DefaultPolicy
	if p.Mode != supervisor.RestartOnFailure || DefaultRestart != supervisor.RestartAlways {
		t.Errorf("default modes: daemon %s, units %s; want on-failure and always", p.Mode, DefaultRestart)
	}
	if DefaultRestartDelay != p.Delay ||
		DefaultStartLimitBurst != p.Burst || DefaultStartLimitInterval != p.Window {
		t.Errorf("unit defaults %s/%v/%d/%v differ from supervisor.DefaultPolicy %+v",
			DefaultRestart, DefaultRestartDelay, DefaultStartLimitBurst, DefaultStartLimitInterval, p)
	}
	if DefaultTimeout != hostconfig.DefaultStopTimeout {
		t.Errorf("DefaultTimeout %v differs from the host configuration's stop timeout %v", DefaultTimeout, hostconfig.DefaultStopTimeout)
	}
}
