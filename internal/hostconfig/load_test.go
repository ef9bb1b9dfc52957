package hostconfig

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/microvm-host/microvm/internal/tomlfile"
)

// TestLoadBad loads every testdata/bad file and expects exactly the
// errors its leading "# error: LINE:COL: …" comments list, in order, each
// prefixed with the file name.
func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("%d bad configurations; expected at least 20", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				w, ok := strings.CutPrefix(sc.Text(), "# error: ")
				if !ok {
					break
				}
				want = append(want, file+":"+w)
			}
			if len(want) == 0 {
				t.Fatal(`no leading "# error: " line`)
			}
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded with %+v; want errors:\n%s", c, strings.Join(want, "\n"))
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("got errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestLoadFull(t *testing.T) {
	got, err := Load("testdata/good/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	none := ""
	want := &Config{
		User: "vmuser", Group: "vmgroup", SupplementaryGroups: []string{"disk", "video"},
		Bridge: "br0", Virtiofsd: "/usr/libexec/virtiofsd",
		Autostart: []string{"web", "db"}, AutostartParallel: 4, AutostartDelay: dur(0),
		Restart: "on-failure", RestartDelay: dur(time.Second), RestartBurst: 3, RestartWindow: dur(time.Minute),
		StopTimeout: dur(30 * time.Second), StopResend: dur(5 * time.Second), StopKillAfter: dur(3 * time.Second),
		APIAdminGroup: "wheel", MetricsListen: "[::1]:9848", WatchConfig: true,
		VM: map[string]VM{
			"web":      {Bridge: &none, StopTimeout: dur(90 * time.Second), StopResend: dur(20 * time.Second), StopKillAfter: dur(time.Minute), Source: "testdata/good/web.toml", Autostart: true, RestartIfChanged: true, PurgeOnRemove: true},
			"db":       {Bridge: ptr("br-db"), Source: "/srv/db"},
			"handmade": {Autostart: true},
		},
		Network: map[string]Network{
			"default": {Bridge: "microvm9", Address: "10.99.0.1/24", NAT: ptr(false), DHCP: ptr(false), DNS: &[]string{"192.0.2.53"}},
			"lab":     {Bridge: "mvlab", Address: "172.20.0.1/16"},
		},
	}
	if diff := cmp.Diff(want, got, durations, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("full.toml (-want +got):\n%s", diff)
	}
	if st := got.StopFor("web"); st != (StopTimes{90 * time.Second, 20 * time.Second, time.Minute}) {
		t.Errorf("StopFor(web) = %+v; want its own 1m30s, 20s, 1m", st)
	}
	if st := got.StopFor("db"); st != (StopTimes{30 * time.Second, 5 * time.Second, 3 * time.Second}) {
		t.Errorf("StopFor(db) = %+v; want the host's 30s, 5s, 3s", st)
	}
	if names := got.AutostartNames(); !slices.Equal(names, []string{"web", "db", "handmade"}) {
		t.Errorf("AutostartNames() = %q; want the list, then handmade (web is listed already)", names)
	}
	if names := got.Declared(); !slices.Equal(names, []string{"db", "web"}) {
		t.Errorf("Declared() = %q; want db, web (handmade has no source)", names)
	}
	if b := got.BridgeFor("web"); b != "" {
		t.Errorf("BridgeFor(web) = %q; want none", b)
	}
	if b := got.BridgeFor("other"); b != "br0" {
		t.Errorf("BridgeFor(other) = %q; want br0", b)
	}
}

// TestFullUsesEveryKey keeps full.toml complete: a field added to Config
// must be added there, so decoding it is tested.
func TestFullUsesEveryKey(t *testing.T) {
	data, err := os.ReadFile("testdata/good/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, path := range tomlfile.IndexKeys(data).Paths() {
		written[tomlfile.KeyOnly(path)] = true
	}
	for f := range reflect.TypeFor[Config]().Fields() {
		if key := f.Tag.Get("toml"); key != "" && key != "vm" && key != "network" && !written[key] {
			t.Errorf("full.toml does not set %q", key)
		}
	}
	for f := range reflect.TypeFor[VM]().Fields() {
		if key := f.Tag.Get("toml"); !written["vm.web."+key] {
			t.Errorf("full.toml does not set [vm.web] %q", key)
		}
	}
	for f := range reflect.TypeFor[Network]().Fields() {
		if key := f.Tag.Get("toml"); key != "" && !written["network.default."+key] {
			t.Errorf("full.toml does not set [network.default] %q", key)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	want := &Config{
		User: DefaultUser, Group: DefaultGroup, AutostartParallel: DefaultAutostartParallel,
		StopTimeout: dur(DefaultStopTimeout), StopResend: dur(DefaultStopResend), StopKillAfter: dur(DefaultStopKillAfter),
	}
	for _, doc := range []string{"", "# nothing set\n"} {
		path := filepath.Join(t.TempDir(), "host.toml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, durations, cmpopts.IgnoreUnexported(Config{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", doc, diff)
		}
	}
	got, err := Load(filepath.Join(t.TempDir(), "missing.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, durations, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("missing file (-want +got):\n%s", diff)
	}
}

// TestLoadNotRegular: a FIFO as host.toml made Load wait for a writer
// forever; anything but a regular file, or a huge one, is refused.
func TestLoadNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxSize/10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo: "host config: " + fifo + ": is a FIFO; expected a regular file",
		dir:  "host config: " + dir + ": is a directory; expected a regular file",
		big:  "host config: " + big + ": 1048580 bytes; expected a configuration file of at most 1048576 bytes",
	} {
		done := make(chan error, 1)
		go func() {
			_, err := Load(path)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || err.Error() != want {
				t.Errorf("Load(%s) = %v; want %s", path, err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Load(%s) blocks", path)
		}
	}
}

// durations compares Durations by value: what the file wrote is not
// part of the setting.
var durations = cmp.Comparer(func(a, b Duration) bool { return a.Duration == b.Duration })

func dur(d time.Duration) Duration { return Duration{Duration: d} }

func ptr[T any](v T) *T { return &v }
