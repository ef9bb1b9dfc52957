package state

import (
	"errors"
	"testing"
)

func TestOwnerRoundTrip(t *testing.T) {
	d := newDir(t)
	mustMkdir(t, d.VMPath("vm"))
	if o, err := d.ReadOwner("vm"); err != nil || o != OwnerNone {
		t.Fatalf("hand-made VM: owner %q, %v; want none", o, err)
	}
	if err := d.SetOwner("vm", OwnerApply); err != nil {
		t.Fatal(err)
	}
	if o, err := d.ReadOwner("vm"); err != nil || o != OwnerApply {
		t.Fatalf("owner %q, %v; want apply", o, err)
	}
	if vm := d.Inspect("vm"); vm.Owner != OwnerApply {
		t.Fatalf("Inspect owner %q; want apply", vm.Owner)
	}
	if err := d.SetOwner("vm", OwnerNone); err != nil {
		t.Fatal(err)
	}
	if o, err := d.ReadOwner("vm"); err != nil || o != OwnerNone {
		t.Fatalf("after disowning: owner %q, %v; want none", o, err)
	}
	if err := d.SetOwner("vm", "Bad Owner"); err == nil {
		t.Fatal("an invalid owner was recorded")
	}
	if _, err := d.ReadOwner("missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("missing VM: %v; want ErrNotExist", err)
	}
}
