package ociinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// loadModules loads the modules listed in the file order (one name per
// line, dependencies first) from dir/NAME.ko. A module that is already
// loaded is fine; every other failure is returned, and the rest are
// still tried: a missing power button driver must not keep the process
// from running.
func loadModules(order, dir string) []error {
	list, err := os.ReadFile(order)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a kernel with everything built in
	}
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, name := range strings.Fields(string(list)) {
		if err := loadModule(filepath.Join(dir, name+".ko")); err != nil {
			errs = append(errs, fmt.Errorf("loading kernel module %s: %w", name, err))
		}
	}
	return errs
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}
