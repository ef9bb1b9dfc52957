package vfio

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/renameio/v2"
)

// SaveBindings writes bs to path as JSON, atomically, so that a teardown
// after a host crash can still give the devices back to their drivers.
func SaveBindings(path string, bs []Binding) error {
	if bs == nil {
		bs = []Binding{}
	}
	data, err := json.MarshalIndent(bs, "", "\t")
	if err != nil {
		return fmt.Errorf("saving PCI bindings to %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("saving PCI bindings: %w", err)
	}
	return nil
}

// LoadBindings reads what SaveBindings wrote. A missing file is an error
// matching fs.ErrNotExist.
func LoadBindings(path string) ([]Binding, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading PCI bindings: %w", err)
	}
	return ParseBindings(data, path)
}

// ParseBindings decodes a bindings record read from path. Restore writes
// the recorded driver names into sysfs paths as root, so every address
// and driver name is checked: a driver "../../x" would lead the write
// out of /sys/bus/pci/drivers.
func ParseBindings(data []byte, path string) ([]Binding, error) {
	var bs []Binding
	if err := json.Unmarshal(data, &bs); err != nil {
		return nil, fmt.Errorf("loading PCI bindings from %s: %w", path, err)
	}
	for _, bd := range bs {
		if err := ValidAddress(bd.Addr); err != nil {
			return nil, fmt.Errorf("loading PCI bindings from %s: %w", path, err)
		}
		for _, drv := range []string{bd.PrevDriver, bd.PrevOverride} {
			if strings.ContainsAny(drv, "/\x00\n") || drv == "." || drv == ".." {
				return nil, fmt.Errorf("loading PCI bindings from %s: device %s: driver %q is not a driver name", path, bd.Addr, drv)
			}
		}
	}
	return bs, nil
}

// Merge returns fresh with every device that saved knows replaced by its
// saved binding. Re-binding after a crash finds devices still on vfio-pci;
// the saved binding remembers the driver they had before the first Bind.
func Merge(saved, fresh []Binding) []Binding {
	out := make([]Binding, len(fresh))
	for i, bd := range fresh {
		out[i] = bd
		for _, s := range saved {
			if s.Addr == bd.Addr {
				out[i] = s
				break
			}
		}
	}
	return out
}
