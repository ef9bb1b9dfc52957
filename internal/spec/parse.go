package spec

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/microvm-host/microvm/internal/state"
)

// Parse reads the spec file at path. The VM is named after the file, as
// microvm.nix names it after the nixosConfiguration: vm.toml is "vm".
// Kernel and initrd stay relative to the file's directory; call
// ResolvePaths(filepath.Dir(path)) before generating a runner.
func Parse(path string) (*Spec, error) {
	data, err := readFile(path)
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
	keys := indexKeys(data)
	s := &Spec{}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, decodeError(file, keys, err)
	}
	s.Name = name

	// An explicit "" or 0 would silently become the default; refusing it
	// catches a half-edited file instead.
	var errs errorList
	for _, path := range keys.order {
		def, ok := defaulted[keyOnly(path)]
		if v := keys.at[path].empty; ok && v != "" {
			errs.add(path, "%s is not allowed; leave the key out for the default (%s)", v, def)
		}
	}
	s.ApplyDefaults()
	errs = append(errs, split(s.Validate())...)
	for _, err := range errs {
		e, ok := err.(*Error)
		if !ok {
			continue
		}
		e.File = file
		if l, ok := keys.locate(e.Path); ok {
			e.Line, e.Col = l.line, l.col
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
	"forwardPorts.from":    `"host"`,
	"forwardPorts.proto":   `"tcp"`,
	"qemu.machine":         fmt.Sprintf("%q", DefaultMachine),
}

// decodeError turns go-toml's errors into Errors with a line and column.
func decodeError(file string, keys *keyIndex, err error) error {
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		var errs []error
		for i := range missing.Errors {
			de := &missing.Errors[i]
			line, col := de.Position()
			// go-toml's key lacks the enclosing key inside inline tables.
			key := strings.Join(de.Key(), ".")
			if path, ok := keys.byPos[[2]int{line, col}]; ok {
				key = keyOnly(path)
			}
			errs = append(errs, &Error{File: file, Line: line, Col: col, Err: fmt.Errorf("unknown key %q", key)})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		path, ok := keys.valueAt[[2]int{line, col}]
		if !ok {
			path = strings.Join(de.Key(), ".")
		}
		return &Error{File: file, Line: line, Col: col, Path: path, Err: errors.New(decodeMessage(de))}
	}
	return &Error{File: file, Err: err}
}

var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into (?:struct field .* of type )?(.+)$`)

// decodeMessage rewords go-toml's type errors, which name Go types, in
// terms of TOML values.
func decodeMessage(de *toml.DecodeError) string {
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	m := typeMismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	return fmt.Sprintf("expected %s, got %s", tomlType(m[2]), article(m[1]))
}

func tomlType(goType string) string {
	goType = strings.TrimPrefix(goType, "*")
	switch {
	case goType == "int":
		return "an integer"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case goType == "[]string":
		return "an array of strings"
	case strings.HasPrefix(goType, "[]"):
		return "an array of tables"
	case strings.Contains(goType, "."): // a struct in package spec
		return "a table"
	}
	return goType
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
