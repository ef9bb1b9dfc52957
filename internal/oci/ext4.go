package oci

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// makeExt4 writes out, an ext4 image holding the tree at dir, with
// mkfs.ext4 -d (e2fsprogs): it copies owners, modes, times, hard links,
// device nodes and extended attributes as they are. The image has no
// journal, as VMs only ever mount it read-only, and is sized from the
// tree; when that guess is too small, it is retried twice as large.
func makeExt4(ctx context.Context, dir, out, label, uuid string) error {
	size, inodes, err := treeSize(dir)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		cmd := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F",
			"-b", "4096", "-I", "256", "-m", "0", "-N", fmt.Sprint(inodes),
			"-O", "^has_journal,^resize_inode", "-E", "nodiscard,root_owner=0:0",
			"-L", label, "-U", uuid, "-d", dir, out, fmt.Sprintf("%dk", size>>10))
		output, err := cmd.CombinedOutput()
		if err == nil {
			return nil
		}
		os.Remove(out)
		tooSmall := bytes.Contains(output, []byte("space")) || bytes.Contains(output, []byte("allocate"))
		if !tooSmall || attempt == 3 || ctx.Err() != nil {
			return fmt.Errorf("%v: %w: %s", cmd.Args, err, bytes.TrimSpace(output))
		}
		size *= 2
	}
}

// treeSize estimates the bytes an ext4 file system needs for the tree at
// dir, and how many inodes: the blocks its files use (hard links once),
// a block per directory and long symlink, inode tables, and room for the
// file system's own metadata.
func treeSize(dir string) (size int64, inodes int64, err error) {
	const block = 4096
	seen := map[uint64]bool{}
	var blocks int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		inodes++
		switch {
		case d.IsDir():
			blocks++
		case fi.Mode().IsRegular():
			blocks += (fi.Size() + block - 1) / block
			// Indirect blocks of large files: one per 1020 data blocks
			// in extents that did not fit the inode.
			blocks += fi.Size() / (1020 * block)
		case fi.Mode()&fs.ModeSymlink != 0 && fi.Size() >= 60:
			blocks++
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sizing the root file system: %w", err)
	}
	inodes += 1024 // lost+found and the reserved inodes
	size = blocks*block + blocks*block/10 + inodes*256 + 32<<20
	return size, inodes, nil
}
