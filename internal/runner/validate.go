package runner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Hypervisors are the hypervisors microvm.nix can generate runners for.
var Hypervisors = []string{"qemu", "cloud-hypervisor", "firecracker", "crosvm", "kvmtool", "stratovirt", "alioth"}

const (
	maxInterfaceName = 15 // IFNAMSIZ - 1
	maxTag           = 36 // size of the tag field in the virtio-fs config space
)

// CheckInterfaceName reports whether the kernel accepts s as a network
// interface name (dev_valid_name), further restricted to printable ASCII
// because names end up in shell scripts and systemd instance names.
func CheckInterfaceName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("interface name is empty; expected 1 to %d bytes", maxInterfaceName)
	case len(s) > maxInterfaceName:
		return fmt.Errorf("interface name %q is %d bytes; expected at most %d", s, len(s), maxInterfaceName)
	case s == "." || s == "..":
		return fmt.Errorf("interface name %q is reserved; expected a name other than \".\" and \"..\"", s)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '/' || c == ':' || c == ' ':
			return fmt.Errorf("interface name %q contains %q; expected no '/', ':' or whitespace", s, c)
		case c < 0x21 || c > 0x7e:
			return fmt.Errorf("interface name %q contains %s; expected printable ASCII", s, charAt(s, i))
		}
	}
	return nil
}

// CheckMAC reports whether s is a guest MAC address: six hex octets
// separated by colons, unicast and not all zeros, since the kernel refuses
// to set anything else on an interface.
func CheckMAC(s string) error {
	const want = "expected six hex octets like 02:00:00:00:00:01"
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return fmt.Errorf("mac address %q has %d parts; %s", s, len(parts), want)
	}
	var octets [6]byte
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 16, 8)
		if len(p) != 2 || err != nil {
			return fmt.Errorf("mac address %q: octet %q is not two hex digits; %s", s, p, want)
		}
		octets[i] = byte(v)
	}
	if octets[0]&1 != 0 {
		return fmt.Errorf("mac address %q is multicast; expected a unicast address (lowest bit of the first octet clear)", s)
	}
	if octets == [6]byte{} {
		return fmt.Errorf("mac address %q is all zeros; expected a unicast address", s)
	}
	return nil
}

// CheckMacvtapMode reports whether s is a mode that
// `ip link add … type macvtap mode` accepts.
func CheckMacvtapMode(s string) error {
	switch s {
	case "private", "vepa", "bridge", "passthru", "source":
		return nil
	}
	return fmt.Errorf("unknown macvtap mode %q; expected one of private, vepa, bridge, passthru, source", s)
}

// CheckPCIAddress reports whether s is a full PCI address
// domain:bus:device.function as sysfs names devices, e.g. 0000:01:00.0.
// Hex digits may be uppercase; callers store NormalizePCIAddress(s).
func CheckPCIAddress(s string) error {
	const want = "expected DDDD:BB:DD.F like 0000:01:00.0"
	if len(s) != 12 || s[4] != ':' || s[7] != ':' || s[10] != '.' {
		return fmt.Errorf("pci address %q is malformed; %s", s, want)
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11} {
		if !isHex(s[i]) {
			return fmt.Errorf("pci address %q contains %s; %s", s, charAt(s, i), want)
		}
	}
	if dev, _ := strconv.ParseUint(s[8:10], 16, 8); dev > 0x1f {
		return fmt.Errorf("pci address %q: device %02x is out of range; expected 00 to 1f", s, dev)
	}
	if fn := s[11]; fn > '7' {
		return fmt.Errorf("pci address %q: function %c is out of range; expected 0 to 7", s, fn)
	}
	return nil
}

// NormalizePCIAddress returns a valid PCI address in lowercase, the way
// sysfs names devices and VFIO finds them; anything else unchanged.
func NormalizePCIAddress(s string) string {
	if CheckPCIAddress(s) != nil {
		return s
	}
	return strings.ToLower(s)
}

// charAt names the character at byte i of s for messages: 'g' for
// printable ASCII, 'é' (U+00E9) or '\t' (U+0009) for other characters,
// and "\xef" (byte 0xef) where s is not valid UTF-8 — never a lone byte
// printed as if it were a character, nor "0x00ef".
func charAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && size <= 1:
		return fmt.Sprintf("%q (byte %#02x)", s[i:i+1], s[i])
	case r >= 0x20 && r < 0x7f:
		return fmt.Sprintf("%q", r)
	}
	return fmt.Sprintf("%q (U+%04X)", r, r)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// CheckTag reports whether s can be a virtio-fs tag. Tags also name
// directories in the package and socket files on the host, hence the
// path restrictions.
func CheckTag(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("tag is empty; expected 1 to %d bytes", maxTag)
	case len(s) > maxTag:
		return fmt.Errorf("tag %q is %d bytes; expected at most %d", s, len(s), maxTag)
	case !utf8.ValidString(s):
		return fmt.Errorf("tag %q is not valid UTF-8", s)
	case strings.Contains(s, "/"):
		return fmt.Errorf("tag %q contains '/'; expected a single path element", s)
	case strings.Contains(s, ".."):
		return fmt.Errorf("tag %q contains \"..\"; expected no \"..\"", s)
	case s == ".":
		return fmt.Errorf("tag %q is reserved; expected a name other than \".\"", s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("tag %q contains %q; expected no whitespace or control characters", s, r)
		}
	}
	return nil
}

// CheckHypervisor reports whether s is one of Hypervisors.
func CheckHypervisor(s string) error {
	if !slices.Contains(Hypervisors, s) {
		return fmt.Errorf("unknown hypervisor %q; expected one of %s", s, strings.Join(Hypervisors, ", "))
	}
	return nil
}

// checkUSBDevice accepts a qemu usb-host selector such as
// vendorid=0x0bda,productid=0x2838; qemu checks the rest.
func checkUSBDevice(s string) error {
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("usb device %q contains %q; expected a usb-host selector without whitespace", s, r)
		}
	}
	return nil
}

// parseMacvtap parses one macvtap-interfaces line, "id mac link mode",
// the format microvm.nix writes and its old host splits on spaces.
func parseMacvtap(line string) (Macvtap, []string) {
	if strings.Contains(line, "  ") {
		return Macvtap{}, []string{`fields are separated by more than one space; expected "id mac link mode" separated by single spaces`}
	}
	f := strings.Split(line, " ")
	if len(f) != 4 {
		return Macvtap{}, []string{fmt.Sprintf("expected 4 fields \"id mac link mode\", got %d", len(f))}
	}
	m := Macvtap{ID: f[0], MAC: f[1], Link: f[2], Mode: f[3]}
	var msgs []string
	if err := CheckInterfaceName(m.ID); err != nil {
		msgs = append(msgs, "id: "+err.Error())
	}
	if err := CheckMAC(m.MAC); err != nil {
		msgs = append(msgs, "mac: "+err.Error())
	}
	if err := CheckInterfaceName(m.Link); err != nil {
		msgs = append(msgs, "link: "+err.Error())
	}
	if err := CheckMacvtapMode(m.Mode); err != nil {
		msgs = append(msgs, "mode: "+err.Error())
	}
	return m, msgs
}

// parseTapNetwork parses one line of tap-networks, "id network mac".
func parseTapNetwork(line string) (TapNetwork, []string) {
	f := strings.Split(line, " ")
	if len(f) != 3 || slices.Contains(f, "") {
		return TapNetwork{}, []string{fmt.Sprintf("expected 3 fields \"id network mac\" separated by single spaces, got %q", line)}
	}
	n := TapNetwork{ID: f[0], Network: f[1], MAC: strings.ToLower(f[2])}
	var msgs []string
	if err := CheckInterfaceName(n.ID); err != nil {
		msgs = append(msgs, "id: "+err.Error())
	}
	if err := CheckNetworkName(n.Network); err != nil {
		msgs = append(msgs, "network: "+err.Error())
	}
	if err := CheckMAC(n.MAC); err != nil {
		msgs = append(msgs, "mac: "+err.Error())
	}
	return n, msgs
}

// checkText rejects what cannot survive a round trip through a
// one-value-per-line file.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("value %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("value %q contains control character %q", s, r)
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("value %q has leading or trailing whitespace", s)
	}
	return nil
}

// maxNetwork bounds a network name: it becomes part of an nftables table
// name and of file names in the state directory.
const maxNetwork = 32

// CheckNetworkName reports whether s names a managed network (host.toml's
// [network.NAME], a spec interface's network): 1 to 32 lowercase letters,
// digits, '-' and '_', starting with a letter or digit.
func CheckNetworkName(s string) error {
	const want = "expected 1 to 32 lowercase letters, digits, '-' and '_', starting with a letter or digit, like \"default\""
	if s == "" || len(s) > maxNetwork {
		return fmt.Errorf("network name %q is %d bytes; %s", s, len(s), want)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')
		if !ok {
			return fmt.Errorf("network name %q contains %s; %s", s, charAt(s, i), want)
		}
	}
	return nil
}
