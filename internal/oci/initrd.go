package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/guest"
)

// initrdVersion changes whenever the initramfs changes for the same init
// and modules.
const initrdVersion = "microvm-image-initrd/1"

// Initrd returns the initramfs of image VMs booting the kernel whose
// modules are in modulesDir ("" for a kernel with everything built in),
// with the init binary at init, building it unless it is cached. The
// cache key is the init's content and the modules' index (depmod
// rewrites modules.dep whenever modules change).
func (c *Cache) Initrd(ctx context.Context, init, modulesDir string) (string, error) {
	f, err := os.Open(init)
	if err != nil {
		return "", fmt.Errorf("the init of image VMs: %w (build it with make, or set MICROVM_INIT)", err)
	}
	defer f.Close()
	bin, err := guest.ReadStaticInit(f)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%x\n%s\n", initrdVersion, sha256.Sum256(bin), modulesDir)
	if modulesDir != "" {
		fi, err := os.Stat(filepath.Join(modulesDir, "modules.dep"))
		if err != nil {
			return "", fmt.Errorf("the kernel's modules: %w", err)
		}
		fmt.Fprintf(h, "%d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	final := filepath.Join(c.Dir, "initrd-"+hex.EncodeToString(h.Sum(nil))+".img")
	err = c.build(ctx, final, func(stage string) (string, error) {
		p := filepath.Join(stage, "initrd.img")
		out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return "", err
		}
		defer out.Close()
		if err := guest.BuildImageInitramfs(out, guest.ImageOptions{Init: bin, ModulesDir: modulesDir}); err != nil {
			return "", err
		}
		return p, out.Close()
	})
	if err != nil {
		return "", fmt.Errorf("the initramfs of image VMs: %w", err)
	}
	return final, nil
}

// PlaceInitrdWith puts into dir, as name, a copy of the cached initramfs
// initrd with files appended (guest.AppendFiles): a VM's own files, such
// as its process (ociinit.ProcessFile), after what every VM of its kernel
// shares. The copy is made in the staging directory, root:Group 0640 as
// cache entries are, and put in place as Link's links are. It is
// made again at every start, and not kept in the cache: a Pod's
// environment differs from one replica to the next.
func (c *Cache) PlaceInitrdWith(initrd, dir, name string, files map[string][]byte) error {
	return c.place(dir, name, func(tmp string) error {
		if err := copyAppending(initrd, tmp, files); err != nil {
			return fmt.Errorf("the VM's initramfs: %w", err)
		}
		if c.Group >= 0 {
			if err := os.Chown(tmp, 0, c.Group); err != nil {
				return err
			}
		}
		return os.Chmod(tmp, 0o640) // whatever the umask
	})
}

// copyAppending copies src to the new file dst and appends files.
func copyAppending(src, dst string, files map[string][]byte) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	defer out.Close()
	n, err := io.Copy(out, in)
	if err != nil {
		return err
	}
	if err := guest.AppendFiles(out, n, files); err != nil {
		return err
	}
	return out.Close()
}
