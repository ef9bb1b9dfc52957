package systemd

import "testing"

func TestEscapeExecArg(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/microvm", "/usr/bin/microvm"},
		{"", `""`},
		{";", `";"`},
		{"/var/lib/micro vms", `"/var/lib/micro vms"`},
		{"a\tb", `"a\tb"`},
		{"50%", "50%%"},
		{"$HOME", "$$HOME"},
		{"50% of $x", `"50%% of $$x"`},
		{`say "hi"`, `"say \"hi\""`},
		{`it's`, `"it's"`},
		{`C:\dir`, `"C:\\dir"`},
		{"%i", "%%i"},
	} {
		if got := escapeExecArg(tc.in); got != tc.want {
			t.Errorf("escapeExecArg(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestEscapeSpecifiers(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/var/lib/microvms", "/var/lib/microvms"},
		{"/a b/$x/100%", "/a b/$x/100%%"},
	} {
		if got := escapeSpecifiers(tc.in); got != tc.want {
			t.Errorf("escapeSpecifiers(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestEscapeExecPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/microvm", "/usr/bin/microvm"},
		{"/opt/$x/100%/microvm", "/opt/$x/100%%/microvm"},
		{"/opt/micro vm/microvm", `"/opt/micro vm/microvm"`},
	} {
		if got := escapeExecPath(tc.in); got != tc.want {
			t.Errorf("escapeExecPath(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
