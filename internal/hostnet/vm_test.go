package hostnet

import (
	"errors"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

var vmTaps = []Tap{
	{Name: "vm-web-0", Owner: nobody, Group: nobody, VnetHdr: true, MultiQueue: true},
	{Name: "vm-web-1", Owner: nobody, Group: nobody, VnetHdr: true, MultiQueue: true},
	{Name: "vm-web-2", Owner: nobody, Group: nobody, VnetHdr: true, MultiQueue: true},
}

const mqFlags = netlink.TUNTAP_NO_PI | netlink.TUNTAP_VNET_HDR | netlink.TUNTAP_MULTI_QUEUE

func TestSetupTeardownTwice(t *testing.T) {
	e := newEnv(t)
	if err := e.host.SetupTaps("web", vmTaps); err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{}
	for _, tp := range vmTaps {
		idx[tp.Name] = checkTap(t, e, tp.Name, nobody, nobody, mqFlags).Attrs().Index
	}
	if err := e.host.SetupTaps("web", vmTaps); err != nil {
		t.Fatalf("second setup: %v", err)
	}
	for _, tp := range vmTaps {
		if got := checkTap(t, e, tp.Name, nobody, nobody, mqFlags).Attrs().Index; got != idx[tp.Name] {
			t.Errorf("%s was recreated by a second setup", tp.Name)
		}
	}
	names := []string{"vm-web-0", "vm-web-1", "vm-web-2"}
	for i := range 2 {
		if err := e.host.TeardownTaps("web", names); err != nil {
			t.Fatalf("teardown %d: %v", i+1, err)
		}
	}
	for _, n := range names {
		if e.link(t, n) != nil {
			t.Errorf("%s survived teardown", n)
		}
	}
}

func TestSetupTapsRollsBack(t *testing.T) {
	e := newEnv(t)
	keep := Tap{Name: "vm-keep", Owner: nobody, VnetHdr: true}
	if err := e.host.EnsureTap(keep); err != nil {
		t.Fatal(err)
	}
	e.addVeth(t, "vm-bad", "vm-bad-peer")
	err := e.host.SetupTaps("web", []Tap{keep, {Name: "vm-new", Owner: nobody}, {Name: "vm-bad", Owner: nobody}})
	if err == nil || !strings.Contains(err.Error(), `vm "web": setting up tap "vm-bad"`) {
		t.Fatalf("got %v, want an error naming the vm and vm-bad", err)
	}
	if e.link(t, "vm-new") != nil {
		t.Error("vm-new, created by the failed setup, was not rolled back")
	}
	if e.link(t, "vm-keep") == nil {
		t.Error("vm-keep, present before the failed setup, was deleted")
	}
	if l := e.link(t, "vm-bad"); l == nil || l.Type() != "veth" {
		t.Error("the veth vm-bad did not survive")
	}
}

func TestSetupTapsDuplicateName(t *testing.T) {
	e := newEnv(t)
	err := e.host.SetupTaps("web", []Tap{{Name: "vm-a"}, {Name: "vm-a", MultiQueue: true}})
	if err == nil || !strings.Contains(err.Error(), `tap "vm-a" is declared twice`) {
		t.Fatalf("got %v", err)
	}
	if e.link(t, "vm-a") != nil {
		t.Error("vm-a was created")
	}
}

// TestCrashThenRerun: a host died after creating two of three taps: the
// first right but never brought up, the second by an older runner with
// other flags.
func TestCrashThenRerun(t *testing.T) {
	e := newEnv(t)
	e.addTap(t, "vm-web-0", mqFlags, nobody, nobody)
	e.addTap(t, "vm-web-1", netlink.TUNTAP_NO_PI|netlink.TUNTAP_VNET_HDR, 0, 0)
	first := e.tap(t, "vm-web-0").Attrs().Index
	if err := e.host.SetupTaps("web", vmTaps); err != nil {
		t.Fatal(err)
	}
	for _, tp := range vmTaps {
		checkTap(t, e, tp.Name, nobody, nobody, mqFlags)
	}
	if e.tap(t, "vm-web-0").Attrs().Index != first {
		t.Error("the correct but down vm-web-0 was recreated instead of brought up")
	}
	if err := e.host.TeardownTaps("web", []string{"vm-web-0", "vm-web-1", "vm-web-2"}); err != nil {
		t.Fatal(err)
	}
}

func TestTeardownContinuesPastFailures(t *testing.T) {
	e := newEnv(t)
	e.addVeth(t, "ve0", "ve1")
	if err := e.host.SetupTaps("web", vmTaps[:2]); err != nil {
		t.Fatal(err)
	}
	err := e.host.TeardownTaps("web", []string{"vm-web-0", "ve0", "vm-web-1", "ve1"})
	if !errors.Is(err, ErrForeign) || strings.Count(err.Error(), "refusing") != 2 {
		t.Fatalf("got %v, want two refusals", err)
	}
	if e.link(t, "vm-web-0") != nil || e.link(t, "vm-web-1") != nil {
		t.Error("teardown stopped at the first failure")
	}
}
