package guest

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDebianCacheKey: the cached image is named by what it is made from,
// so changing the package list (or the recipe) builds a new one instead
// of reusing a stale image.
func TestDebianCacheKey(t *testing.T) {
	d := DefaultDebian
	p := d.ImagePath("/cache")
	if !regexp.MustCompile(`^/cache/debian-bookworm-[0-9a-f]{16}\.qcow2$`).MatchString(p) {
		t.Errorf("ImagePath = %q", p)
	}
	if again := DefaultDebian.ImagePath("/cache"); again != p {
		t.Errorf("ImagePath not stable: %q, then %q", p, again)
	}
	more := d
	more.Packages = append(append([]string{}, d.Packages...), "vim")
	bigger := d
	bigger.SizeMiB *= 2
	for _, other := range []Debian{more, bigger} {
		if other.ImagePath("/cache") == p {
			t.Errorf("%+v has the same cache path as the default", other)
		}
	}
	if !strings.Contains(DebianFstab, "LABEL=microvm-modules /lib/modules ext4 ro") {
		t.Errorf("the guest's fstab does not mount the modules image:\n%s", DebianFstab)
	}
}

// TestMountsBelow lists only mounts strictly inside the directory,
// deepest first, so a build directory is unmounted before removal.
func TestMountsBelow(t *testing.T) {
	got, err := mountsBelow("/")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		if strings.Count(got[i], "/") > strings.Count(got[i-1], "/") {
			t.Errorf("%q comes after the shallower %q", got[i], got[i-1])
		}
	}
	if got, _ := mountsBelow(filepath.Join(t.TempDir(), "none")); len(got) != 0 {
		t.Errorf("mounts below a fresh directory: %v", got)
	}
}
