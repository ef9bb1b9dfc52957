package vfio

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeKernel is a sysfs tree in a temp dir plus the kernel's reactions to
// writes into it: unbind drops the driver link, drivers_probe binds the
// driver_override driver or else the device's native driver, and binding a
// group's first device to vfio-pci creates /dev/vfio/GROUP.
type fakeKernel struct {
	t        *testing.T
	sys, dev string
	native   map[string]string // device → driver its IDs match
	refuse   map[string]bool   // devices vfio-pci fails to probe
	writes   []string          // "PATH-UNDER-SYS DATA", in order
}

const pciRoot = "devices/pci0000:00"

func newFakeKernel(t *testing.T) *fakeKernel {
	t.Helper()
	root := t.TempDir()
	k := &fakeKernel{
		t: t, sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev"),
		native: map[string]string{}, refuse: map[string]bool{},
	}
	k.mkdir(k.dev, "vfio")
	k.mkdir(k.sys, "bus/pci/devices")
	k.mkdir(k.sys, pciRoot)
	k.file("bus/pci/drivers_probe", "")
	for _, d := range []string{Driver, "e1000e", "pcieport", "nvme"} {
		k.addDriver(d)
	}
	return k
}

func (k *fakeKernel) binder() *Binder {
	uid, gid := testOwner()
	return &Binder{Sys: k.sys, Dev: k.dev, Owner: uid, Group: gid, Settle: 50 * time.Millisecond, writer: k,
		Log: testLogger(k.t)}
}

func (k *fakeKernel) addDriver(name string) {
	k.mkdir(k.sys, "bus/pci/drivers", name)
	k.file("bus/pci/drivers/"+name+"/bind", "")
	k.file("bus/pci/drivers/"+name+"/unbind", "")
}

// addDevice adds a PCI device with its class, IOMMU group ("" for none)
// and the driver it is bound to ("" for none).
func (k *fakeKernel) addDevice(addr, class, group, driver string) {
	dir := pciRoot + "/" + addr
	k.mkdir(k.sys, dir)
	k.file(dir+"/class", class+"\n")
	k.file(dir+"/driver_override", "(null)\n")
	k.symlink("../../../"+dir, "bus/pci/devices/"+addr)
	if group != "" {
		k.mkdir(k.sys, "kernel/iommu_groups", group, "devices")
		k.symlink("../../../kernel/iommu_groups/"+group, dir+"/iommu_group")
		k.symlink("../../../../"+dir, "kernel/iommu_groups/"+group+"/devices/"+addr)
	}
	if driver != "" && driver != Driver {
		k.native[addr] = driver
	}
	if driver != "" {
		k.bind(addr, driver)
	}
}

func (k *fakeKernel) WriteFile(path string, data []byte) error {
	rel, err := filepath.Rel(k.sys, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		k.t.Errorf("write outside sysfs: %s", path)
		return syscall.EACCES
	}
	val := strings.TrimSuffix(string(data), "\n")
	k.writes = append(k.writes, rel+" "+val)
	parts := strings.Split(rel, "/")
	switch {
	case rel == "bus/pci/drivers_probe":
		k.probe(val)
		return nil
	case len(parts) == 5 && parts[2] == "drivers" && parts[4] == "unbind":
		if k.state(val).driver != parts[3] {
			return syscall.ENODEV
		}
		k.unbind(val)
		return nil
	case len(parts) == 5 && parts[2] == "devices" && parts[4] == "driver_override":
		if val == "" {
			val = "(null)"
		}
		return os.WriteFile(path, []byte(val+"\n"), 0o644)
	}
	k.t.Errorf("unexpected write of %q to %s", val, rel)
	return syscall.EACCES
}

func (k *fakeKernel) probe(addr string) {
	st := k.state(addr)
	if st.driver != "" {
		return
	}
	target := st.override
	if target == "(null)" {
		target = k.native[addr]
	}
	if _, err := os.Stat(filepath.Join(k.sys, "bus/pci/drivers", target)); target == "" || err != nil {
		return
	}
	if target == Driver && k.refuse[addr] {
		return // the probe failed; the kernel logs it, the write succeeds
	}
	k.bind(addr, target)
}

func (k *fakeKernel) bind(addr, driver string) {
	dir := pciRoot + "/" + addr
	k.symlink("../../../bus/pci/drivers/"+driver, dir+"/driver")
	k.symlink("../../../../"+dir, "bus/pci/drivers/"+driver+"/"+addr)
	if g := k.state(addr).group; driver == Driver && g != "" {
		if _, err := os.Stat(filepath.Join(k.dev, "vfio", g)); err != nil {
			k.fileAt(filepath.Join(k.dev, "vfio", g), "")
		}
	}
}

func (k *fakeKernel) unbind(addr string) {
	st := k.state(addr)
	for _, p := range []string{pciRoot + "/" + addr + "/driver", "bus/pci/drivers/" + st.driver + "/" + addr} {
		if err := os.Remove(filepath.Join(k.sys, p)); err != nil {
			k.t.Fatal(err)
		}
	}
	if st.driver != Driver || st.group == "" {
		return
	}
	members, _ := os.ReadDir(filepath.Join(k.sys, "kernel/iommu_groups", st.group, "devices"))
	for _, m := range members {
		if k.state(m.Name()).driver == Driver {
			return
		}
	}
	os.Remove(filepath.Join(k.dev, "vfio", st.group))
}

type devState struct{ driver, override, group string }

func (k *fakeKernel) state(addr string) devState {
	var st devState
	dir := filepath.Join(k.sys, pciRoot, addr)
	if l, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
		st.driver = filepath.Base(l)
	}
	if l, err := os.Readlink(filepath.Join(dir, "iommu_group")); err == nil {
		st.group = filepath.Base(l)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "driver_override"))
	st.override = strings.TrimSpace(string(data))
	return st
}

func (k *fakeKernel) mkdir(root string, elem ...string) {
	if err := os.MkdirAll(filepath.Join(append([]string{root}, elem...)...), 0o755); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fakeKernel) file(rel, content string) { k.fileAt(filepath.Join(k.sys, rel), content) }

func (k *fakeKernel) fileAt(path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fakeKernel) symlink(target, rel string) {
	if err := os.Symlink(target, filepath.Join(k.sys, rel)); err != nil {
		k.t.Fatal(err)
	}
}
