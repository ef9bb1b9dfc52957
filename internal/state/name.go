package state

import "fmt"

// MaxNameLen keeps a VM name usable as a host name label (63 bytes), which
// microvm.nix assumes since the name is the guest's networking.hostName.
const MaxNameLen = 63

// CheckName reports whether name can be a VM name. A name becomes a
// directory, a systemd instance name (microvm@NAME.service), a process
// name (microvm@NAME) and a host name, so it is restricted to what all of
// those accept without escaping.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("invalid VM name %q: empty", name)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("invalid VM name %q: %d bytes, at most %d allowed", name, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("invalid VM name %q: must start with a letter or digit", name)
		}
		if !alnum && c != '-' && c != '_' {
			return fmt.Errorf("invalid VM name %q: %q not allowed; expected letters, digits, '-' or '_'", name, c)
		}
	}
	return nil
}
