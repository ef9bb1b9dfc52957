package control

import "testing"

func TestEndingOfExit(t *testing.T) {
	for _, tc := range []struct {
		hv   string
		code int
		want Ending
	}{
		{"crosvm", 0, Ending{}},
		{"crosvm", 32, Ending{EndReboot, "crosvm exit status 32"}},
		{"crosvm", 34, Ending{EndPanic, "crosvm exit status 34"}},
		{"crosvm", 1, Ending{}},
		{"qemu", 32, Ending{}}, // qemu says it on its events socket
		{"", 0, Ending{}},
	} {
		if got := EndingOfExit(tc.hv, tc.code); got != tc.want {
			t.Errorf("EndingOfExit(%q, %d) = %+v; want %+v", tc.hv, tc.code, got, tc.want)
		}
	}
}
