package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
)

// unitMode is what systemd and package managers use for unit files.
const unitMode = 0o644

// Install writes units into dir (usually /etc/systemd/system). Each file is
// replaced atomically, so systemd never reads half a unit; a file whose
// content and mode are already right is left untouched, so re-running
// Install changes nothing. Files Install does not own are never touched.
// dir is created if missing. The caller runs `systemctl daemon-reload`.
func Install(dir string, units []Unit) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("installing units: %w", err)
	}
	var errs []error
	for _, u := range units {
		if u.Name == "" || strings.ContainsRune(u.Name, '/') || u.Name == "." || u.Name == ".." {
			errs = append(errs, fmt.Errorf("installing unit %q: invalid file name", u.Name))
			continue
		}
		if err := installOne(filepath.Join(dir, u.Name), u.Content); err != nil {
			errs = append(errs, fmt.Errorf("installing unit %q: %w", u.Name, err))
		}
	}
	return errors.Join(errs...)
}

func installOne(file string, content []byte) error {
	old, err := os.ReadFile(file)
	switch {
	case err == nil && bytes.Equal(old, content):
		if fi, err := os.Stat(file); err == nil && fi.Mode().Perm() == unitMode {
			return nil
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// Not renameio.WriteFile: it keeps an existing file's mode. Unit files
	// must be world-readable whatever the old mode or the umask was.
	f, err := renameio.NewPendingFile(file, renameio.WithStaticPermissions(unitMode))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(content); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}
