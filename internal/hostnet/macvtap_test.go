package hostnet

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// checkMacvtap fails unless name is an up macvtap on parent with the MAC,
// mode and allmulticast, IPv6 off, and /dev/tapN owned by uid:gid.
func checkMacvtap(t *testing.T, e *env, name, parent, mac, mode string, uid, gid uint32) *netlink.Macvtap {
	t.Helper()
	got, ok := e.link(t, name).(*netlink.Macvtap)
	if !ok {
		t.Fatalf("%s: not a macvtap", name)
	}
	want, _ := net.ParseMAC(mac)
	if got.ParentIndex != e.link(t, parent).Attrs().Index || !bytes.Equal(got.HardwareAddr, want) ||
		modeName(got.Mode) != mode {
		t.Errorf("%s: parent index %d MAC %s mode %s, want parent %s MAC %s mode %s",
			name, got.ParentIndex, got.HardwareAddr, modeName(got.Mode), parent, mac, mode)
	}
	if got.Allmulti != 1 || got.Flags&net.FlagUp == 0 {
		t.Errorf("%s: allmulti %d flags %v, want allmulticast and up", name, got.Allmulti, got.Flags)
	}
	var v []byte
	err := e.host.inNetNS(func() (err error) {
		v, err = os.ReadFile("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6")
		return err
	})
	if err != nil || string(v) != "1\n" {
		t.Errorf("%s: disable_ipv6 = %q, %v; want 1", name, v, err)
	}
	fi, err := os.Lstat("/dev/tap" + strconv.Itoa(got.Index))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: owned by %d:%d, want %d:%d", fi.Name(), st.Uid, st.Gid, uid, gid)
	}
	return got
}

func TestMacvtap(t *testing.T) {
	e := newEnv(t)
	e.addVeth(t, "up0", "up1")
	m := Macvtap{Name: "vm-mvt", Parent: "up0", MAC: "02:00:00:00:00:0a", Mode: "bridge", Owner: nobody, Group: nobody}
	dev, err := e.host.EnsureMacvtap(m)
	if err != nil {
		t.Fatal(err)
	}
	got := checkMacvtap(t, e, "vm-mvt", "up0", m.MAC, "bridge", nobody, nobody)
	if want := "/dev/tap" + strconv.Itoa(got.Index); dev != want {
		t.Errorf("device %q, want %q", dev, want)
	}

	// Same settings: kept. Another mode: replaced.
	if err := e.host.SetupMacvtaps("web", []Macvtap{m}); err != nil {
		t.Fatal(err)
	}
	if checkMacvtap(t, e, "vm-mvt", "up0", m.MAC, "bridge", nobody, nobody).Index != got.Index {
		t.Error("an identical macvtap was recreated")
	}
	m.Mode, m.Group = "vepa", 0
	if err := e.host.SetupMacvtaps("web", []Macvtap{m}); err != nil {
		t.Fatal(err)
	}
	if checkMacvtap(t, e, "vm-mvt", "up0", m.MAC, "vepa", nobody, 0).Index == got.Index {
		t.Error("a macvtap with another mode was kept")
	}

	dev = "/dev/tap" + strconv.Itoa(e.link(t, "vm-mvt").Attrs().Index)
	for i := range 2 {
		if err := e.host.TeardownMacvtaps("web", []string{"vm-mvt"}); err != nil {
			t.Fatalf("teardown %d: %v", i+1, err)
		}
	}
	if e.link(t, "vm-mvt") != nil {
		t.Fatal("vm-mvt survived teardown")
	}
	// devtmpfs removes the node asynchronously.
	for deadline := time.Now().Add(devWait); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Lstat(dev); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after teardown", dev)
		}
	}
}

func TestMacvtapRefusesOtherKinds(t *testing.T) {
	e := newEnv(t)
	e.addVeth(t, "up0", "up1")
	e.addVeth(t, "vm-mvt", "vm-mvt-peer")
	_, err := e.host.EnsureMacvtap(Macvtap{Name: "vm-mvt", Parent: "up0", MAC: "02:00:00:00:00:0a", Mode: "bridge"})
	if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "is a veth, not a macvtap") {
		t.Fatalf("got %v, want ErrForeign", err)
	}
	if err := e.host.DeleteMacvtap("vm-mvt"); !errors.Is(err, ErrForeign) {
		t.Fatalf("delete: got %v, want ErrForeign", err)
	}
	if l := e.link(t, "vm-mvt"); l == nil || l.Type() != "veth" {
		t.Fatal("the veth did not survive")
	}
}

func TestMacvtapMissingParentRollsBack(t *testing.T) {
	e := newEnv(t)
	e.addVeth(t, "up0", "up1")
	err := e.host.SetupMacvtaps("web", []Macvtap{
		{Name: "vm-mvt0", Parent: "up0", MAC: "02:00:00:00:00:0a", Mode: "bridge", Owner: nobody},
		{Name: "vm-mvt1", Parent: "nope0", MAC: "02:00:00:00:00:0b", Mode: "bridge", Owner: nobody},
	})
	if !errors.Is(err, ErrNoLink) {
		t.Fatalf("got %v, want ErrNoLink", err)
	}
	for _, s := range []string{`vm "web"`, `macvtap "vm-mvt1"`, `parent "nope0"`} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
	if e.link(t, "vm-mvt0") != nil || e.link(t, "vm-mvt1") != nil {
		t.Error("a macvtap survived the failed setup")
	}
}
