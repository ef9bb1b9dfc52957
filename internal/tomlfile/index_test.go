package tomlfile

import "testing"

func TestIndexKeys(t *testing.T) {
	doc := `kernel = "k"
[[interfaces]]
id = "a"
[interfaces.macvtap]
link = "eth0"
[[interfaces]]
macvtap.mode = "vepa"
[[a]]
[[a.b]]
x = 1
[[a]]
[[a.b]]
x = [ "", { y = 0 } ]
`
	x := IndexKeys([]byte(doc))
	for _, tt := range []struct {
		path      string
		line, col int
		empty     string
	}{
		{"kernel", 1, 1, ""},
		{"interfaces", 2, 3, ""},
		{"interfaces[0]", 2, 3, ""},
		{"interfaces[0].macvtap", 4, 2, ""},
		{"interfaces[0].macvtap.link", 5, 1, ""},
		{"interfaces[1]", 6, 3, ""},
		{"interfaces[1].macvtap", 7, 1, ""},
		{"interfaces[1].macvtap.mode", 7, 1, ""},
		{"interfaces[1].mac", 6, 3, ""}, // not written: its element
		{"a[0].b[0].x", 10, 1, ""},
		{"a[1].b[0].x", 13, 1, ""},
		{"a[1].b[0].x[0]", 13, 7, `""`},
		{"a[1].b[0].x[1].y", 13, 13, "0"},
	} {
		l, ok := x.Locate(tt.path)
		if !ok || l.Line != tt.line || l.Col != tt.col || l.Empty != tt.empty {
			t.Errorf("Locate(%q) = %+v, %v; want %d:%d empty %q", tt.path, l, ok, tt.line, tt.col, tt.empty)
		}
	}
	if _, ok := x.Locate("vcpu"); ok {
		t.Errorf("Locate(vcpu) found a key the document does not write")
	}
}

func TestKeyOnly(t *testing.T) {
	for in, want := range map[string]string{
		"vcpu":                        "vcpu",
		"interfaces[12].macvtap.link": "interfaces.macvtap.link",
		"a[0].b[1]":                   "a.b",
	} {
		if got := KeyOnly(in); got != want {
			t.Errorf("KeyOnly(%q) = %q; want %q", in, got, want)
		}
	}
}
