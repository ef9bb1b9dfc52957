package hostconfig_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/hostconfig"
)

// example is the host.toml the Debian package installs as a conffile
// (tools/package): every setting commented out.
const example = "../../examples/host.toml"

// setting is a commented-out setting of the example ("#key = …" or
// "#[table.name]"); prose comments have a space after the "#".
var setting = regexp.MustCompile(`^#([A-Za-z\[].*)$`)

// TestExample checks the packaged example: as shipped it is the defaults
// (only comments), and with every setting uncommented it is a valid
// configuration, so no example value is stale or misspelt.
func TestExample(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := hostconfig.Load(example)
	if err != nil {
		t.Fatalf("the example as shipped: %v", err)
	}
	defaults, err := hostconfig.Load(filepath.Join(t.TempDir(), "missing.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if shipped.User != defaults.User || shipped.Group != defaults.Group || len(shipped.VM) != 0 || len(shipped.Network) != 0 {
		t.Errorf("the example as shipped sets something: %+v", shipped)
	}

	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			t.Errorf("%s: %q is not commented out", example, l)
		}
		if m := setting.FindStringSubmatch(l); m != nil {
			l = m[1]
		}
		lines = append(lines, l)
	}
	uncommented := filepath.Join(t.TempDir(), "host.toml")
	if err := os.WriteFile(uncommented, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hostconfig.Load(uncommented); err != nil {
		t.Errorf("%s with every setting uncommented: %v", example, err)
	}
}

// TestExampleComplete checks that the example shows every key host.toml
// knows, so a new key is documented where administrators look.
func TestExampleComplete(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if m := setting.FindStringSubmatch(l); m != nil {
			key, _, _ := strings.Cut(m[1], "=")
			shown[strings.TrimSpace(key)] = true
		}
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[hostconfig.Config](),
		reflect.TypeFor[hostconfig.VM](),
		reflect.TypeFor[hostconfig.Network](),
	} {
		for f := range typ.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if key == "" || key == "-" || key == "vm" || key == "network" {
				continue
			}
			if !shown[key] {
				t.Errorf("%s does not show %s's key %q", example, typ.Name(), key)
			}
		}
	}
}
