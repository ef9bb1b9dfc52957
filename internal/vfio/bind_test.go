package vfio

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	nic      = "0000:01:00.0"
	nicFn1   = "0000:01:00.1"
	bridge   = "0000:00:1c.0"
	ssd      = "0000:02:00.0"
	ethClass = "0x020000"
	nvmClass = "0x010802"
	brClass  = "0x060400"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// testOwner is who gets /dev/vfio/N: nobody when root can chown, else us.
func testOwner() (uid, gid int) {
	if os.Geteuid() == 0 {
		return 65534, 65534
	}
	return os.Getuid(), os.Getgid()
}

func wantState(t *testing.T, k *fakeKernel, addr, driver, override string) {
	t.Helper()
	if st := k.state(addr); st.driver != driver || st.override != override {
		t.Errorf("%s: driver %q override %q, want %q %q", addr, st.driver, st.override, driver, override)
	}
}

func wantNodeOwner(t *testing.T, k *fakeKernel, group string) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(k.dev, "vfio", group))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	uid, gid := testOwner()
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("/dev/vfio/%s owned by %d:%d, want %d:%d", group, st.Uid, st.Gid, uid, gid)
	}
}

func TestBindFromHostDriver(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", "e1000e")
	bs, err := k.binder().Bind("web", []string{nic})
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{{Addr: nic, PrevDriver: "e1000e", Group: "7"}}
	if diff := cmp.Diff(want, bs); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	wantState(t, k, nic, Driver, Driver)
	wantNodeOwner(t, k, "7")
	wantWrites := []string{
		"bus/pci/devices/" + nic + "/driver_override vfio-pci",
		"bus/pci/drivers/e1000e/unbind " + nic,
		"bus/pci/drivers_probe " + nic,
	}
	if diff := cmp.Diff(wantWrites, k.writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

func TestBindAlreadyBound(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", Driver)
	k.file(pciRoot+"/"+nic+"/driver_override", "vfio-pci\n")
	b := k.binder()
	bs, err := b.Bind("web", []string{nic, nic})
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{{Addr: nic, PrevDriver: Driver, PrevOverride: Driver, Group: "7"}}
	if diff := cmp.Diff(want, bs); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	wantNodeOwner(t, k, "7")
	if err := b.Restore("web", bs); err != nil {
		t.Fatal(err)
	}
	if len(k.writes) != 0 {
		t.Errorf("bind and restore of a bound device wrote %q", k.writes)
	}
	wantState(t, k, nic, Driver, Driver)
}

func TestBindRefusesBeforeChanging(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		setup      func(k *fakeKernel)
		want       error
		mention    []string
	}{
		{"nonexistent", "0000:09:00.0", nil, ErrNoDevice, []string{`"web"`, "0000:09:00.0"}},
		{"uppercase", "0000:0A:00.0", nil, ErrInvalidAddress, []string{"0000:0A:00.0"}},
		{"short", "01:00.0", nil, ErrInvalidAddress, []string{"01:00.0"}},
		{"traversal", "../../../etc", nil, ErrInvalidAddress, nil},
		{"no vfio-pci", nic, func(k *fakeKernel) {
			os.RemoveAll(filepath.Join(k.sys, "bus/pci/drivers", Driver))
		}, ErrNoVFIO, nil},
		{"no iommu group", ssd, func(k *fakeKernel) {
			k.addDevice(ssd, nvmClass, "", "nvme")
		}, ErrNoIOMMU, []string{ssd}},
		{"group shared with host driver", nic, func(k *fakeKernel) {
			k.addDevice(nicFn1, ethClass, "7", "e1000e")
		}, ErrGroupInUse, []string{`"web"`, nicFn1, `"e1000e"`, "group 7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newFakeKernel(t)
			k.addDevice(nic, ethClass, "7", "e1000e")
			if tc.setup != nil {
				tc.setup(k)
			}
			bs, err := k.binder().Bind("web", []string{nic, tc.addr})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Bind: %v, want %v", err, tc.want)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
			if bs != nil || len(k.writes) != 0 {
				t.Errorf("refused Bind returned %v and wrote %q", bs, k.writes)
			}
			wantState(t, k, nic, "e1000e", "(null)")
		})
	}
}

// TestBindRollback fails the second device's probe: the first device,
// already on vfio-pci, must go back to its driver.
func TestBindRollback(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", "e1000e")
	k.addDevice(ssd, nvmClass, "8", "nvme")
	k.refuse[ssd] = true
	_, err := k.binder().Bind("web", []string{nic, ssd})
	if !errors.Is(err, ErrNotBound) || !strings.Contains(err.Error(), ssd) {
		t.Fatalf("Bind: %v, want %v naming %s", err, ErrNotBound, ssd)
	}
	wantState(t, k, nic, "e1000e", "(null)")
	wantState(t, k, ssd, "nvme", "(null)")
	for _, g := range []string{"7", "8"} {
		if _, err := os.Stat(filepath.Join(k.dev, "vfio", g)); err == nil {
			t.Errorf("/dev/vfio/%s left behind", g)
		}
	}
}

func TestBindWholeGroup(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", "e1000e")
	k.addDevice(nicFn1, ethClass, "7", "")
	bs, err := k.binder().Bind("web", []string{nic, nicFn1})
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{{Addr: nic, PrevDriver: "e1000e", Group: "7"}, {Addr: nicFn1, Group: "7"}}
	if diff := cmp.Diff(want, bs); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
	wantState(t, k, nic, Driver, Driver)
	wantState(t, k, nicFn1, Driver, Driver)
	wantNodeOwner(t, k, "7")
}

func TestBindBridgeMayStay(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(bridge, brClass, "7", "pcieport")
	k.addDevice(nic, ethClass, "7", "e1000e")
	if _, err := k.binder().Bind("web", []string{nic}); err != nil {
		t.Fatal(err)
	}
	wantState(t, k, bridge, "pcieport", "(null)")
	wantState(t, k, nic, Driver, Driver)
}

func TestRestore(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", "e1000e")
	k.addDevice(nicFn1, ethClass, "7", "")
	b := k.binder()
	bs, err := b.Bind("web", []string{nic, nicFn1})
	if err != nil {
		t.Fatal(err)
	}
	k.writes = nil
	if err := b.Restore("web", bs); err != nil {
		t.Fatal(err)
	}
	wantState(t, k, nic, "e1000e", "(null)")
	// It had no driver before: no probe, or a host driver might grab it.
	wantState(t, k, nicFn1, "", "(null)")
	if slices.Contains(k.writes, "bus/pci/drivers_probe "+nicFn1) {
		t.Errorf("restore probed %s, which had no driver: %q", nicFn1, k.writes)
	}
	if _, err := os.Stat(filepath.Join(k.dev, "vfio", "7")); err == nil {
		t.Error("/dev/vfio/7 still there after restore")
	}
	k.writes = nil
	if err := b.Restore("web", bs); err != nil {
		t.Fatalf("second Restore: %v", err)
	}
	if len(k.writes) != 0 {
		t.Errorf("second Restore wrote %q", k.writes)
	}
}

func TestRestorePrevOverride(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(ssd, nvmClass, "8", "nvme")
	k.file(pciRoot+"/"+ssd+"/driver_override", "nvme\n")
	b := k.binder()
	bs, err := b.Bind("db", []string{ssd})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore("db", bs); err != nil {
		t.Fatal(err)
	}
	wantState(t, k, ssd, "nvme", "nvme")
}

// TestRestoreDeviceGone tolerates a hot-removed device: nothing to restore.
func TestRestoreDeviceGone(t *testing.T) {
	k := newFakeKernel(t)
	err := k.binder().Restore("web", []Binding{{Addr: nic, PrevDriver: "e1000e", Group: "7"}})
	if err != nil || len(k.writes) != 0 {
		t.Errorf("Restore of a missing device: %v, writes %q", err, k.writes)
	}
}

// TestRestoreStaleOverride: an interrupted earlier bind left
// driver_override=vfio-pci on a device still on its host driver; restore
// must not hand it to vfio-pci again.
func TestRestoreStaleOverride(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", "e1000e")
	k.file(pciRoot+"/"+nic+"/driver_override", "vfio-pci\n")
	b := k.binder()
	bs, err := b.Bind("web", []string{nic})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore("web", bs); err != nil {
		t.Fatal(err)
	}
	wantState(t, k, nic, "e1000e", "(null)")
}
