package tomlfile

import (
	"errors"
	"testing"
)

type testVM struct {
	Bridge *string `toml:"bridge"`
}

type testConfig struct {
	User   string            `toml:"user"`
	Count  int               `toml:"count"`
	Groups []string          `toml:"groups"`
	VM     map[string]testVM `toml:"vm"`
}

func TestDecodeErrors(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"usr = \"x\"\n", `f.toml:1:1: unknown key "usr"`},
		{"user = \"x\"\n[vm.web]\nbridg = \"br0\"\n", `f.toml:3:1: unknown key "vm.web.bridg"`},
		{"[vm.web]\nbridge = 3\n", `f.toml:2:10: vm.web.bridge: expected a string, got an integer`},
		{"count = \"2\"\n", `f.toml:1:9: count: expected an integer, got a string`},
		{"groups = \"disk\"\n", `f.toml:1:10: groups: expected an array of strings, got a string`},
		{"vm = 3\n", `f.toml:1:6: vm: expected a table, got an integer`},
		{"count =\n", `f.toml:1:8: unexpected character U+000A at start of value`},
	} {
		var c testConfig
		_, err := Decode("f.toml", []byte(tt.doc), &c)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Decode(%q) = %v; want %s", tt.doc, err, tt.want)
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Errorf("Decode(%q) = %T; want an *Error", tt.doc, err)
		}
	}
}

func TestDecodeUnknownKeysAll(t *testing.T) {
	var c testConfig
	_, err := Decode("f.toml", []byte("a = 1\nb = 2\n"), &c)
	if err == nil || err.Error() != "f.toml:1:1: unknown key \"a\"\nf.toml:2:1: unknown key \"b\"" {
		t.Errorf("Decode = %v; want both unknown keys", err)
	}
}

func TestPlace(t *testing.T) {
	var c testConfig
	keys, err := Decode("f.toml", []byte("user = \"x\"\n\n[vm.web]\nbridge = \"br0\"\n"), &c)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"vm.web.bridge": "f.toml:4:1: vm.web.bridge: bad",
		"vm.web.source": "f.toml:3:2: vm.web.source: bad", // left out: its table header
		"count":         "f.toml: count: bad",
	} {
		e := &Error{Path: path, Err: errors.New("bad")}
		keys.Place(e)
		if got := e.Error(); got != want {
			t.Errorf("Place(%s) gives %q; want %q", path, got, want)
		}
	}
}
