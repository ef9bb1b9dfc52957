package ociinit

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// earlyMounts mounts what the init needs before anything else; the kernel
// mounts nothing in an initramfs.
func earlyMounts() error {
	for _, m := range []struct{ src, dir, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := mount(m.src, m.dir, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
			return err
		}
	}
	return nil
}

func mount(src, dir, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mounting %s: %w", dir, err)
	}
	if err := unix.Mount(src, dir, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s (%s) at %s: %w", src, fstype, dir, err)
	}
	return nil
}

// waitDevice waits up to 10 s for a block device to appear: virtio
// devices probe as their modules load, but a busy host is slow.
func waitDevice(dev string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(dev); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the disk %s did not appear within 10 s", dev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mountRoot mounts the root disk read-only, reads the process to run,
// and mounts the image's root at newRoot as an overlay whose writable
// layer is a tmpfs: every VM of the image shares the disk, and what the
// process writes stays in the VM's memory, gone at power-off.
func mountRoot() (*Config, error) {
	if err := waitDevice(RootDevice); err != nil {
		return nil, err
	}
	if err := mount(RootDevice, imageMount, "ext4", unix.MS_RDONLY|unix.MS_NODEV, ""); err != nil {
		return nil, fmt.Errorf("the image's root disk: %w", err)
	}
	f, err := os.Open(filepath.Join(imageMount, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("the image's root disk: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfig))
	f.Close()
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	if err := mount("tmpfs", rwMount, "tmpfs", 0, "mode=0755"); err != nil {
		return nil, err
	}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(rwMount, d), 0o755); err != nil {
			return nil, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s",
		filepath.Join(imageMount, RootfsDir), filepath.Join(rwMount, "upper"), filepath.Join(rwMount, "work"))
	if err := mount("overlay", newRoot, "overlay", 0, opts); err != nil {
		return nil, err
	}
	return cfg, nil
}

// mountVolumes mounts the volumes and shares the command line names
// inside the new root. A failure is reported and the process still runs:
// it may not need the mount, and the console says what went wrong.
func (in *initProcess) mountVolumes(o Options) {
	for _, v := range o.Volumes {
		if err := waitDevice(v.Device); err != nil {
			in.fail(err)
			continue
		}
		dir := filepath.Join(newRoot, v.MountPoint)
		if err := mount(v.Device, dir, v.FsType, 0, ""); err != nil {
			in.fail(err)
			continue
		}
		in.mounts = append(in.mounts, v.MountPoint)
		in.say("mounted %s at %s", v.Device, v.MountPoint)
	}
	for _, s := range o.Shares {
		dir := filepath.Join(newRoot, s.MountPoint)
		data := ""
		if s.Proto == "9p" {
			data = "trans=virtio,version=9p2000.L,msize=65536"
		}
		if err := mount(s.Tag, dir, s.Proto, 0, data); err != nil {
			in.fail(err)
			continue
		}
		in.mounts = append(in.mounts, s.MountPoint)
		in.say("mounted %s at %s", s.Tag, s.MountPoint)
	}
}

// switchRoot makes newRoot the root, as switch_root does: /dev, /proc
// and /sys move along, then the new root is moved onto "/" and entered.
// The initramfs stays underneath, unreachable; it holds a few MiB.
func switchRoot() error {
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		dst := filepath.Join(newRoot, d)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fmt.Errorf("preparing %s in the image: %w", d, err)
		}
		if err := unix.Mount(d, dst, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("moving %s into the image: %w", d, err)
		}
	}
	for _, m := range []struct{ src, dir, fstype, data string }{
		{"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620"},
		{"shm", "/dev/shm", "tmpfs", "mode=1777"},
	} {
		if err := mount(m.src, filepath.Join(newRoot, m.dir), m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, m.data); err != nil {
			return err
		}
	}
	if err := os.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving the image's root onto /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("entering the image's root: %w", err)
	}
	return os.Chdir("/")
}
