package runner

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/printable"
)

type checkCase struct {
	in   string
	want string // substring of the error; "" = valid
}

func testCheck(t *testing.T, check func(string) error, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		err := check(c.in)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: unexpected error: %v", c.in, err)
		case c.want != "" && err == nil:
			t.Errorf("%q: no error, want one containing %q", c.in, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("%q: error %q does not contain %q", c.in, err, c.want)
		}
		if err != nil && strings.ToLower(err.Error()[:1]) != err.Error()[:1] {
			t.Errorf("%q: error %q does not start in lowercase", c.in, err)
		}
	}
}

func TestCheckInterfaceName(t *testing.T) {
	testCheck(t, CheckInterfaceName, []checkCase{
		{"vm0", ""},
		{"v", ""},
		{"vm-0123456789ab", ""}, // 15 bytes
		{"vm-0123456789abc", "is 16 bytes; expected at most 15"},
		{"", "empty"},
		{".", "reserved"},
		{"..", "reserved"},
		{"...", ""},
		{"vm/0", "contains '/'"},
		{"vm:0", "contains ':'"},
		{"vm 0", "contains ' '"},
		{"vm\t0", `contains '\t' (U+0009); expected printable ASCII`},
		{"vm\n0", `contains '\n' (U+000A); expected printable ASCII`},
		{"vm\x7f", `contains '\x7f' (U+007F); expected printable ASCII`},
		{"vmé", `contains 'é' (U+00E9); expected printable ASCII`},
		{"vm\xef", `contains "\xef" (byte 0xef); expected printable ASCII`},
		{"vm\x01", `contains '\x01' (U+0001)`},
		{"vm_0.1-a@b", ""},
	})
}

func TestCheckMAC(t *testing.T) {
	testCheck(t, CheckMAC, []checkCase{
		{"02:00:00:00:00:01", ""},
		{"02:AB:cd:EF:00:01", ""},
		{"00:16:3e:00:00:01", ""},
		{"fe:ff:ff:ff:ff:ff", ""},
		{"01:00:5e:00:00:01", "multicast"},
		{"03:00:00:00:00:01", "multicast"},
		{"ff:ff:ff:ff:ff:ff", "multicast"},
		{"00:00:00:00:00:00", "all zeros"},
		{"02:00:00:00:00", "has 5 parts"},
		{"02:00:00:00:00:01:02", "has 7 parts"},
		{"02-00-00-00-00-01", "has 1 parts"},
		{"02:00:00:00:00:0g", `octet "0g"`},
		{"02:00:00:00:00:1", `octet "1"`},
		{"02:00:00:00:00:001", `octet "001"`},
		{"02:00:00:00:00:+1", `octet "+1"`},
		{"", "expected six hex octets"},
	})
}

func TestCheckMacvtapMode(t *testing.T) {
	testCheck(t, CheckMacvtapMode, []checkCase{
		{"private", ""},
		{"vepa", ""},
		{"bridge", ""},
		{"passthru", ""},
		{"source", ""},
		{"Bridge", "unknown macvtap mode"},
		{"passthrough", "unknown macvtap mode"},
		{"", "expected one of private, vepa, bridge, passthru, source"},
	})
}

func TestCheckPCIAddress(t *testing.T) {
	testCheck(t, CheckPCIAddress, []checkCase{
		{"0000:01:00.0", ""},
		{"0000:01:1f.0", ""},
		{"0000:01:20.0", "device 20 is out of range"},
		{"0000:01:00.7", ""},
		{"0000:01:00.8", "function 8 is out of range"},
		{"ABCD:EF:1F.7", ""},
		{"abcd:ef:1f.7", ""},
		{"0000:01:00", "malformed"},
		{"01:00.0", "malformed"},
		{"00000:01:00.0", "malformed"},
		{"0000.01:00.0", "malformed"},
		{"0000:01:00:0", "malformed"},
		{"000g:01:00.0", "contains 'g'"},
		{"0000:01:00.a", "function a is out of range"},
		{"0000:0x:00.0", "contains 'x'; expected"},
		{"0000:0\xef:00.0", `contains "\xef" (byte 0xef)`},
		{"", "malformed"},
	})
}

func TestNormalizePCIAddress(t *testing.T) {
	for in, want := range map[string]string{
		"0000:0A:1F.7": "0000:0a:1f.7",
		"ABCD:EF:00.0": "abcd:ef:00.0",
		"0000:0a:00.0": "0000:0a:00.0",
		"0000:0G:00.0": "0000:0G:00.0", // invalid: left for the error to quote
	} {
		if got := NormalizePCIAddress(in); got != want {
			t.Errorf("NormalizePCIAddress(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestFileKind(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		0o644:                                 "a regular file",
		fs.ModeDir | 0o755:                    "a directory",
		fs.ModeSymlink:                        "a symlink",
		fs.ModeNamedPipe:                      "a FIFO",
		fs.ModeSocket:                         "a socket",
		fs.ModeDevice | fs.ModeCharDevice:     "a character device",
		fs.ModeDevice:                         "a block device",
		fs.ModeIrregular:                      "an irregular file",
		fs.ModeDevice | fs.ModeCharDevice | 1: "a character device",
	} {
		if got := printable.FileKind(m); got != want {
			t.Errorf("printable.FileKind(%v) = %q; want %q", m, got, want)
		}
	}
}

func TestCheckTag(t *testing.T) {
	testCheck(t, CheckTag, []checkCase{
		{"ro-store", ""},
		{"a", ""},
		{"tag-0123456789-0123456789-0123456789", ""}, // 36 bytes
		{"tag-0123456789-0123456789-0123456789x", "is 37 bytes; expected at most 36"},
		{"", "empty"},
		{".", "reserved"},
		{"..", `contains ".."`},
		{"a..b", `contains ".."`},
		{".hidden", ""},
		{"a/b", "contains '/'"},
		{"a b", "expected no whitespace"},
		{"a\tb", "expected no whitespace"},
		{"a\x00b", "control characters"},
		{"\xff", "not valid UTF-8"},
		{"données", ""},
	})
}

func TestCheckHypervisor(t *testing.T) {
	cases := []checkCase{{"", "unknown hypervisor"}, {"QEMU", "unknown hypervisor"}, {"xen", "expected one of qemu,"}}
	for _, h := range Hypervisors {
		cases = append(cases, checkCase{h, ""})
	}
	testCheck(t, CheckHypervisor, cases)
}

func TestCheckUSBDevice(t *testing.T) {
	testCheck(t, checkUSBDevice, []checkCase{
		{"vendorid=0x0bda,productid=0x2838", ""},
		{"hostbus=1,hostaddr=4", ""},
		{"vendorid=0x0bda productid=0x2838", "contains ' '"},
		{"a\u00a0b", "without whitespace"},
	})
}

func TestErrorString(t *testing.T) {
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{Msg: `runner package "x" does not exist`}, `runner package "x" does not exist`},
		{Error{Path: RunScript, Msg: "missing"}, "bin/microvm-run: missing"},
		{Error{Path: TapInterfacesFile, Line: 2, Msg: "blank line"}, "share/microvm/tap-interfaces:2: blank line"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}
