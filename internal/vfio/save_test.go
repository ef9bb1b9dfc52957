package vfio

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSaveLoadBindings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pci-bindings.json")
	bs := []Binding{
		{Addr: nic, PrevDriver: "e1000e", Group: "7"},
		{Addr: ssd, PrevDriver: "nvme", PrevOverride: "nvme", Group: "8"},
	}
	if err := SaveBindings(path, bs); err != nil {
		t.Fatal(err)
	}
	got, err := LoadBindings(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bs, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestLoadBindingsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadBindings(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"addr":"../../etc"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBindings(bad); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("bad address: %v, want %v", err, ErrInvalidAddress)
	}
}

// TestMergeKeepsFirstDriver is the crash story: the second Bind sees the
// device on vfio-pci, the saved binding still knows e1000e.
func TestMergeKeepsFirstDriver(t *testing.T) {
	saved := []Binding{{Addr: nic, PrevDriver: "e1000e", Group: "7"}}
	fresh := []Binding{
		{Addr: nic, PrevDriver: Driver, PrevOverride: Driver, Group: "7"},
		{Addr: ssd, PrevDriver: "nvme", Group: "8"},
	}
	want := []Binding{saved[0], fresh[1]}
	if diff := cmp.Diff(want, Merge(saved, fresh)); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
}

// TestRestoreAfterCrash binds, "crashes", binds again and restores with
// the merged bindings: the device must go back to e1000e.
func TestRestoreAfterCrash(t *testing.T) {
	k := newFakeKernel(t)
	k.addDevice(nic, ethClass, "7", "e1000e")
	b := k.binder()
	path := filepath.Join(t.TempDir(), "pci-bindings.json")
	first, err := b.Bind("web", []string{nic})
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveBindings(path, first); err != nil {
		t.Fatal(err)
	}
	again, err := b.Bind("web", []string{nic})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := LoadBindings(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Restore("web", Merge(saved, again)); err != nil {
		t.Fatal(err)
	}
	wantState(t, k, nic, "e1000e", "(null)")
}

// TestParseBindingsRefusesDriverPaths: Restore writes recorded driver
// names into sysfs paths as root; "../../x" would lead out of
// /sys/bus/pci/drivers.
func TestParseBindingsRefusesDriverPaths(t *testing.T) {
	for _, data := range []string{
		`[{"addr":"0000:00:1f.0","prev_driver":"../../../../etc"}]`,
		`[{"addr":"0000:00:1f.0","prev_driver":"e1000e","prev_override":"a/b"}]`,
		`[{"addr":"0000:00:1f.0","prev_driver":".."}]`,
	} {
		if _, err := ParseBindings([]byte(data), "rec"); err == nil || !strings.Contains(err.Error(), "is not a driver name") {
			t.Errorf("%s: %v; want a refusal", data, err)
		}
	}
	if _, err := ParseBindings([]byte(`[{"addr":"0000:00:1f.0","prev_driver":"e1000e"}]`), "rec"); err != nil {
		t.Errorf("a plain driver name: %v", err)
	}
}
