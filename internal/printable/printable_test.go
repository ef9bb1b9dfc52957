package printable

import "testing"

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"/var/lib/microvms/web/current": "/var/lib/microvms/web/current",
		"runner 0123abcd":               "runner 0123abcd",
		"/x\x1b[2J\x1b[1;31mFAKE":       `"/x\x1b[2J\x1b[1;31mFAKE"`,
		"a\nb":                          `"a\nb"`,
		"bad\xffutf8":                   `"bad\xffutf8"`,
		`quo"te`:                        `"quo\"te"`,
		"ünïcode ok":                    "ünïcode ok",
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %s; want %s", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		`vm: current -> "/x": runner missing`: `vm: current -> "/x": runner missing`,
		"vm: \x1b[2J cleared":                 `vm: \x1b[2J cleared`,
		"bad\xff byte":                        `bad\xff byte`,
		"tab\there":                           `tab\there`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %s; want %s", in, got, want)
		}
	}
}
