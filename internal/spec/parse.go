package spec

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/tomlfile"
)

// maxSpecFile bounds what Parse reads: specs are a few KiB, so a path to
// something huge is a mistake, not a spec.
const maxSpecFile = 1 << 20

// Parse reads the spec file at path (a regular file: a FIFO would block
// and /dev/zero never end, see tomlfile.ReadFile). The VM is named after the file, as
// microvm.nix names it after the nixosConfiguration: vm.toml is "vm".
// Kernel and initrd stay relative to the file's directory; call
// ResolvePaths(filepath.Dir(path)) before generating a runner.
func Parse(path string) (*Spec, error) {
	data, err := tomlfile.ReadFile(path, maxSpecFile)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err)
	}
	return ParseBytes(strings.TrimSuffix(filepath.Base(path), ".toml"), path, data)
}

// ParseBytes parses data as the spec of the VM called name. file names the
// data in errors, which read "FILE:LINE:COL: option: problem". The result
// has microvm.nix's defaults applied and passed Validate; every problem
// found is reported, joined.
func ParseBytes(name, file string, data []byte) (*Spec, error) {
	if err := state.CheckName(name); err != nil {
		return nil, &Error{File: file, Err: fmt.Errorf("%w; the VM is named after its spec file", err)}
	}
	s := &Spec{}
	keys, err := tomlfile.Decode(file, data, s)
	if err != nil {
		return nil, err
	}
	s.Name = name

	// An explicit "" or 0 would silently become the default; refusing it
	// catches a half-edited file instead.
	var errs errorList
	for _, path := range keys.Paths() {
		def, ok := defaulted[tomlfile.KeyOnly(path)]
		if l, _ := keys.At(path); ok && l.Empty != "" {
			errs.add(path, "%s is not allowed; leave the key out for the default (%s)", l.Empty, def)
		}
	}
	s.ApplyDefaults()
	errs = append(errs, split(s.Validate())...)
	for _, err := range errs {
		if e, ok := err.(*Error); ok {
			keys.Place(e)
		}
	}
	if len(errs) > 0 {
		return nil, errs.byLine().join()
	}
	return s, nil
}

// defaulted are the options ApplyDefaults fills when they are zero, with
// their default as the error message shows it.
var defaulted = map[string]string{
	"hypervisor":           fmt.Sprintf("%q", DefaultHypervisor),
	"vcpu":                 fmt.Sprint(DefaultVcpu),
	"mem":                  fmt.Sprint(DefaultMem),
	"shares.proto":         fmt.Sprintf("%q", DefaultShareProto),
	"shares.socket":        `"NAME-virtiofs-TAG.sock" for virtiofs`,
	"shares.securityModel": fmt.Sprintf("%q for 9p", DefaultSecurity),
	"volumes.fsType":       fmt.Sprintf("%q", DefaultFsType),
	"volumes.format":       `"raw", or "qcow2" with base`,
	"volumes.base":         "none: the image is made with mkfs",
	"forwardPorts.from":    `"host"`,
	"forwardPorts.proto":   `"tcp"`,
	"qemu.machine":         fmt.Sprintf("%q", DefaultMachine),
	"cloudInit.hostname":   "the VM name",
	"image":                "no image",
}
