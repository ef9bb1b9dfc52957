package hypervisor

import (
	"encoding/json"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"53.0", V(53, 0), true},
		{"v50.1.0", V(50, 1), true},
		{"cloud-hypervisor v53.0-246-gae44c2971", V(53, 0), true},
		{"Firecracker v1.16.0-dev", V(1, 16), true},
		{"StratoVirt 2.4.0 commit-id ", V(2, 4), true},
		{"QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)", V(7, 2, 22), true},
		{"alioth-cli 0.12.0", V(0, 12), true},
		{"qemu-system-x86_64 says nothing", Version{}, false},
		{"", Version{}, false},
		{"UNKNOWN", Version{}, false},
	} {
		got, ok := ParseVersion(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseVersion(%q) = %v, %t; want %v, %t", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestVersionsContains(t *testing.T) {
	from501 := Versions{Min: V(50, 1)}
	before25 := Versions{Below: V(2, 5)}
	for _, tc := range []struct {
		r    Versions
		v    Version
		want bool
	}{
		{from501, V(50, 0), false},
		{from501, V(50, 1), true},
		{from501, V(53, 0), true},
		{from501, Version{}, true}, // unknown: cannot tell
		{before25, V(2, 4, 9), true},
		{before25, V(2, 5), false},
		{Versions{}, V(1, 0), true},
		{from501.Narrow(Versions{Below: V(54, 0)}), V(54, 0), false},
	} {
		if got := tc.r.Contains(tc.v); got != tc.want {
			t.Errorf("%v.Contains(%v) = %t", tc.r, tc.v, got)
		}
	}
}

func TestVersionsNarrowAndString(t *testing.T) {
	r := Versions{Min: V(36, 0)}.Narrow(Versions{Min: V(50, 1)}).Narrow(Versions{Min: V(40, 0), Below: V(60, 0)})
	if want := (Versions{Min: V(50, 1), Below: V(60, 0)}); r != want {
		t.Fatalf("Narrow = %+v, want %+v", r, want)
	}
	for _, tc := range []struct {
		r    Versions
		want string
	}{
		{r, "50.1.0 or later, before 60.0.0"},
		{Versions{Min: V(50, 1)}, "50.1.0 or later"},
		{Versions{Below: V(2, 5)}, "before 2.5.0"},
		{Versions{}, "any release"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String = %q, want %q", got, tc.want)
		}
	}
}

func TestVersionsJSON(t *testing.T) {
	b, err := json.Marshal(Versions{Min: V(50, 1)})
	if err != nil || string(b) != `{"min":"50.1.0"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var r Versions
	if err := json.Unmarshal([]byte(`{"min":"50.1.0","below":"54.0"}`), &r); err != nil || r != (Versions{Min: V(50, 1), Below: V(54, 0)}) {
		t.Fatalf("Unmarshal = %+v, %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"min":"fifty"}`), &r); err == nil {
		t.Error("Unmarshal of a version without a number: no error")
	}
}

func TestCheckRelease(t *testing.T) {
	c := Caps{Oldest: V(36, 0)}
	for _, tc := range []struct {
		version string
		refused bool
	}{{"35.1", true}, {"36.0", false}, {"", false}, {"garbage", false}} {
		err := CheckRelease("cloud-hypervisor", Facts{Binary: "/usr/bin/cloud-hypervisor", Version: tc.version}, c)
		if (err != nil) != tc.refused {
			t.Errorf("version %q: CheckRelease = %v", tc.version, err)
		}
	}
	if err := CheckRelease("x", Facts{Version: "0.1"}, Caps{}); err != nil {
		t.Errorf("no Oldest claimed, still refused: %v", err)
	}
}
