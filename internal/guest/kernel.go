package guest

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNoKernel is returned when no kernel with modules is installed.
var ErrNoKernel = errors.New("no kernel with modules found (install linux-image-cloud-amd64)")

// DefaultKernel finds the newest /boot/vmlinuz-VERSION that has a
// /lib/modules/VERSION/modules.dep, for tests and the demo.
func DefaultKernel() (kernel, version string, err error) {
	return FindKernel("/boot", "/lib/modules")
}

// FindKernel is DefaultKernel with the two roots as parameters.
func FindKernel(bootDir, modulesRoot string) (kernel, version string, err error) {
	paths, err := filepath.Glob(filepath.Join(bootDir, "vmlinuz-*"))
	if err != nil {
		return "", "", err
	}
	var versions []string
	for _, p := range paths {
		v := strings.TrimPrefix(filepath.Base(p), "vmlinuz-")
		if _, err := os.Stat(filepath.Join(modulesRoot, v, "modules.dep")); err == nil {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		return "", "", fmt.Errorf("finding kernel in %s: %w", bootDir, ErrNoKernel)
	}
	slices.SortFunc(versions, compareVersions)
	v := versions[len(versions)-1]
	return filepath.Join(bootDir, "vmlinuz-"+v), v, nil
}

// compareVersions orders "6.1.0-9-cloud-amd64" before "6.1.0-10-cloud-amd64":
// runs of digits compare as numbers, everything else as text.
func compareVersions(a, b string) int {
	for a != "" && b != "" {
		ca, ra := leadingChunk(a)
		cb, rb := leadingChunk(b)
		na, errA := strconv.Atoi(ca)
		nb, errB := strconv.Atoi(cb)
		var c int
		if errA == nil && errB == nil {
			c = cmp.Compare(na, nb)
		} else {
			c = strings.Compare(ca, cb)
		}
		if c != 0 {
			return c
		}
		a, b = ra, rb
	}
	return strings.Compare(a, b)
}

// leadingChunk splits s after its first run of digits or of non-digits.
func leadingChunk(s string) (chunk, rest string) {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	i := 1
	for i < len(s) && digit(s[i]) == digit(s[0]) {
		i++
	}
	return s[:i], s[i:]
}
