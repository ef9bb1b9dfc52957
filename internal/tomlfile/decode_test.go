package tomlfile

import (
	"errors"
	"testing"
)

type testVM struct {
	Bridge *string `toml:"bridge"`
	Ports  []struct {
		Host int `toml:"hostPort"`
	} `toml:"ports"`
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
	if !errors.Is(err, ErrUnknownKeys) {
		t.Errorf("Decode = %#v; want an ErrUnknownKeys", err)
	}
	// The rest is decoded, for the caller to validate.
	_, err = Decode("f.toml", []byte("a = 1\nuser = \"u\"\n[vm.web]\nbridge = \"br0\"\n"), &c)
	if !errors.Is(err, ErrUnknownKeys) || c.User != "u" || c.VM["web"].Bridge == nil {
		t.Errorf("Decode = %v, %+v; want an ErrUnknownKeys and the rest decoded", err, c)
	}
	if _, err := Decode("f.toml", []byte("a = 1\ncount = \"x\"\n"), &c); errors.Is(err, ErrUnknownKeys) {
		t.Errorf("Decode = %v; a type error is more than unknown keys", err)
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

// TestDecodeKeyCase: go-toml matches keys without regard to case; a key
// written so would escape every check that looks it up in the index.
func TestDecodeKeyCase(t *testing.T) {
	for _, tt := range []struct{ doc, want string }{
		{"User = \"x\"\n", `f.toml:1:1: unknown key "User"; did you mean "user"? (keys are case-sensitive)`},
		{"[vm.Web]\nBridge = \"b\"\nbridge = \"c\"\n", `f.toml:2:1: unknown key "vm.Web.Bridge"; did you mean "vm.Web.bridge"? (keys are case-sensitive)`},
		{"[[vm.web.ports]]\nhostport = 1\n", `f.toml:2:1: unknown key "vm.web.ports.hostport"; did you mean "vm.web.ports.hostPort"? (keys are case-sensitive)`},
		{"vm.web.ports = [{ hostPort = 1 }, { HostPort = 2 }]\n", `f.toml:1:37: unknown key "vm.web.ports.HostPort"; did you mean "vm.web.ports.hostPort"? (keys are case-sensitive)`},
		{"[VM.web]\nbridge = \"b\"\n[VM.db]\n", `f.toml:1:2: unknown key "VM"; did you mean "vm"? (keys are case-sensitive)`},
	} {
		var c testConfig
		_, err := Decode("f.toml", []byte(tt.doc), &c)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Decode(%q) = %v; want %s", tt.doc, err, tt.want)
		}
		if !errors.Is(err, ErrUnknownKeys) {
			t.Errorf("Decode(%q) = %#v; want an ErrUnknownKeys", tt.doc, err)
		}
	}
}
