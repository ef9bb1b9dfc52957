package virtiofsd

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.args")

func TestArgsGolden(t *testing.T) {
	s := Share{Tag: "home", Source: "/var/lib/microvms/web/home", Socket: "/var/lib/microvms/web/web-virtiofs-home.sock"}
	for _, tc := range []struct {
		flavor Flavor
		binary string
		extra  []string
	}{
		{Rust, "/usr/libexec/virtiofsd", []string{"--cache=auto"}},
		{QEMU, "/usr/lib/qemu/virtiofsd", []string{"-o", "cache=auto"}},
	} {
		t.Run(tc.flavor.String(), func(t *testing.T) {
			c := Config{ThreadPoolSize: 4, ExtraArgs: tc.extra}
			got := strings.Join(Args(tc.flavor, tc.binary, s, c), "\n") + "\n"
			golden := filepath.Join("testdata", tc.flavor.String()+".args")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Args (-%s +got):\n%s", golden, diff)
			}
		})
	}
}

func TestArgsDetails(t *testing.T) {
	s := Share{Tag: "t", Source: `/srv/a,b\c`, Socket: "/run/t.sock"}
	if got := Args(QEMU, "virtiofsd", s, Config{}); !slices.Contains(got, `source=/srv/a\,b\\c`) {
		t.Errorf("QEMU flavor does not escape the -o source value: %q", got)
	}
	if got := Args(Rust, "virtiofsd", s, Config{}); !slices.Contains(got, `--shared-dir=/srv/a,b\c`) {
		t.Errorf("Rust flavor changed the source: %q", got)
	}
	tagged := Config{AnnounceTags: true}
	if got := Args(Rust, "virtiofsd", s, tagged); !slices.Contains(got, "--tag=t") {
		t.Errorf("Rust flavor with AnnounceTags lacks --tag=t: %q", got)
	}
	if got := Args(Rust, "virtiofsd", s, Config{}); slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "--tag") }) {
		t.Errorf("Rust flavor without AnnounceTags passes a tag: %q", got)
	}
	for _, n := range []int{0, -1} {
		for _, a := range Args(Rust, "virtiofsd", s, Config{ThreadPoolSize: n}) {
			if strings.HasPrefix(a, "--thread-pool-size") {
				t.Errorf("ThreadPoolSize %d passed as %q", n, a)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	var got []string
	for n := 1; n <= 8; n++ {
		got = append(got, backoff(5e9, n).String())
	}
	want := []string{"5s", "10s", "20s", "30s", "30s", "30s", "30s", "30s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
}
