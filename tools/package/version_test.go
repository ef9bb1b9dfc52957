package main

import (
	"os/exec"
	"testing"
)

func TestDebianVersion(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"1.2", "1.2"},
		{"v1.2.3-rc1", "1.2.3~rc1"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-rc.1-4-gabc1234", "1.2.3~rc.1+4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"bcfec70", "0.0.0+git.bcfec70"},
		{"bcfec70-dirty", "0.0.0+git.bcfec70.dirty"},
	} {
		got, err := debianVersion(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("debianVersion(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "main", "v1.2.3 beta", "release-1", "v1.2.3-4-gXYZ"} {
		if got, err := debianVersion(bad); err == nil {
			t.Errorf("debianVersion(%q) = %q, want an error", bad, got)
		}
	}
}

// TestDebianVersionOrder checks with dpkg itself that the versions sort
// as the releases do.
func TestDebianVersionOrder(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("needs dpkg")
	}
	order := []string{"bcfec70", "v1.2.3-rc1", "v1.2.3-rc1-2-gabc1234", "v1.2.3", "v1.2.3-4-gabc1234", "v1.2.3-4-gabc1234-dirty", "v1.10.0"}
	for i := 1; i < len(order); i++ {
		a, err := debianVersion(order[i-1])
		if err != nil {
			t.Fatal(err)
		}
		b, err := debianVersion(order[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort %s (%s) before %s (%s): %v", a, order[i-1], b, order[i], err)
		}
	}
}
