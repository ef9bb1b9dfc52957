package oci

import (
	"archive/tar"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/oci/ocitest"
)

// needRoot skips tests that flatten: only root can keep an image's owners
// and device nodes, and flattening refuses to run without it.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("flattening needs root (it keeps the image's owners and device nodes)")
	}
}

func image(t testing.TB, cfg v1.Config, layers ...[]ocitest.Entry) v1.Image {
	t.Helper()
	var ls []v1.Layer
	for _, entries := range layers {
		l, err := ocitest.Layer(entries...)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	img, err := ocitest.Image(cfg, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var run = v1.Config{Entrypoint: []string{"/bin/sh", "-c"}, Cmd: []string{"echo hi"}}

// flatten extracts img into a fresh directory and returns it.
func flatten(t *testing.T, img v1.Image) (string, error) {
	t.Helper()
	checked, err := checkImage(img)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, extractInto(checked, dir, DefaultLimits, nil)
}

func TestFlattenKeepsWhatTheImageSays(t *testing.T) {
	needRoot(t)
	img := image(t, run, []ocitest.Entry{
		{Name: "usr/", Type: tar.TypeDir},
		{Name: "usr/bin/", Type: tar.TypeDir},
		{Name: "usr/bin/su", Body: "su", Mode: 0o4755},
		{Name: "usr/bin/ping", Body: "ping", Mode: 0o755, Xattrs: map[string]string{"security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}},
		{Name: "usr/bin/again", Type: tar.TypeLink, Linkname: "usr/bin/su"},
		{Name: "home/", Type: tar.TypeDir, Mode: 0o750, UID: 1000, GID: 100},
		{Name: "home/data", Body: "data", UID: 1000, GID: 100, Mode: 0o600},
		{Name: "etc/localtime", Type: tar.TypeSymlink, Linkname: "/usr/share/zoneinfo/UTC"},
		{Name: "dev/null", Type: tar.TypeChar, Major: 1, Minor: 3, Mode: 0o666},
		{Name: "run/fifo", Type: tar.TypeFifo, Mode: 0o600},
		{Name: "deep/a/b/c", Body: "implicit parents"},
	})
	dir, err := flatten(t, img)
	if err != nil {
		t.Fatal(err)
	}
	stat := func(p string) unix.Stat_t {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, c := range []struct {
		path     string
		mode     uint32
		uid, gid uint32
	}{
		{"usr/bin/su", unix.S_IFREG | 0o4755, 0, 0},
		{"home", unix.S_IFDIR | 0o750, 1000, 100},
		{"home/data", unix.S_IFREG | 0o600, 1000, 100},
		{"etc/localtime", unix.S_IFLNK | 0o777, 0, 0},
		{"dev/null", unix.S_IFCHR | 0o666, 0, 0},
		{"run/fifo", unix.S_IFIFO | 0o600, 0, 0},
		{"deep/a/b", unix.S_IFDIR | 0o755, 0, 0},
	} {
		st := stat(c.path)
		if st.Mode != c.mode || st.Uid != c.uid || st.Gid != c.gid {
			t.Errorf("%s: mode %o owner %d:%d; want %o %d:%d", c.path, st.Mode, st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}
	if st := stat("dev/null"); st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null is device %d; want 1:3", st.Rdev)
	}
	if a, b := stat("usr/bin/su"), stat("usr/bin/again"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link: inodes %d and %d, %d links", a.Ino, b.Ino, a.Nlink)
	}
	if target, _ := os.Readlink(filepath.Join(dir, "etc/localtime")); target != "/usr/share/zoneinfo/UTC" {
		t.Errorf("symlink points at %q", target)
	}
	if st := stat("home/data"); st.Mtim.Sec != ocitest.Time.Unix() {
		t.Errorf("home/data mtime %d; want %d", st.Mtim.Sec, ocitest.Time.Unix())
	}
	if st := stat("home"); st.Mtim.Sec != ocitest.Time.Unix() {
		t.Errorf("home mtime %d (set before its children?); want %d", st.Mtim.Sec, ocitest.Time.Unix())
	}
	buf := make([]byte, 64)
	if n, err := unix.Getxattr(filepath.Join(dir, "usr/bin/ping"), "security.capability", buf); err != nil || n != 20 {
		t.Errorf("ping's file capability: %d bytes, %v", n, err)
	}
}

func TestFlattenHonoursWhiteouts(t *testing.T) {
	needRoot(t)
	img := image(t, run,
		[]ocitest.Entry{
			{Name: "a/", Type: tar.TypeDir},
			{Name: "a/gone", Body: "lower"},
			{Name: "a/kept", Body: "lower"},
			{Name: "b", Body: "lower"},
			{Name: "o/", Type: tar.TypeDir},
			{Name: "o/hidden", Body: "lower"},
			{Name: "f", Body: "lower"},
		},
		[]ocitest.Entry{
			{Name: "a/.wh.gone"},
			{Name: ".wh.b"},
			{Name: "o/", Type: tar.TypeDir},
			{Name: "o/.wh..wh..opq"},
			{Name: "o/new", Body: "upper"},
			{Name: "f", Body: "upper"},
		})
	dir, err := flatten(t, img)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"a/kept": "lower", "o/new": "upper", "f": "upper", "a/gone": "", "b": "", "o/hidden": "", "a/.wh.gone": ""} {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if want == "" {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %q, %v; want it deleted", p, got, err)
			}
		} else if string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
}

// TestFlattenRefusesEscapes plays the evil image: each layer tries to make
// root write outside the directory it flattens into. Each is refused with
// what it tried, and nothing appears outside.
func TestFlattenRefusesEscapes(t *testing.T) {
	needRoot(t)
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []ocitest.Entry
		want    string
	}{
		{"dot-dot", []ocitest.Entry{{Name: "../../../" + strings.TrimPrefix(outside, "/") + "/evil", Body: "x"}},
			`layer 1 of 1: entry "../../../` + strings.TrimPrefix(outside, "/") + `/evil" leaves the image's root`},
		{"through an absolute symlink", []ocitest.Entry{
			{Name: "out", Type: tar.TypeSymlink, Linkname: outside},
			{Name: "out/evil", Body: "x"},
		}, `layer 1 of 1: entry "out/evil" is below "out", a symbolic link to "` + outside + `"`},
		{"through a relative symlink", []ocitest.Entry{
			{Name: "a/", Type: tar.TypeDir},
			{Name: "a/up", Type: tar.TypeSymlink, Linkname: "../../../../../../../../.." + outside},
			{Name: "a/up/evil", Body: "x"},
		}, `entry "a/up/evil" is below "a/up"`},
		{"hard link out", []ocitest.Entry{{Name: "shadow", Type: tar.TypeLink, Linkname: "../../../../etc/shadow"}},
			`layer 1 of 1: hard link "shadow" points outside the image's root, at "../../../../etc/shadow"`},
		{"hard link through a symlink", []ocitest.Entry{
			{Name: "etc", Type: tar.TypeSymlink, Linkname: "/etc"},
			{Name: "shadow", Type: tar.TypeLink, Linkname: "etc/shadow"},
		}, `hard link "shadow" points at "etc/shadow", below "etc", a symbolic link to "/etc"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flatten(t, image(t, run, tc.entries))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("flattening: %v\nwant an error containing %s", err, tc.want)
			}
			if entries, _ := os.ReadDir(outside); len(entries) > 0 {
				t.Errorf("written outside: %v", entries)
			}
		})
	}
}

// TestFlattenNeverFollowsLinks is the extractor's own guard, below the
// layer scan: a stream that has a directory of the image replaced by a
// link (as a tampered stream could) is not written through.
func TestFlattenNeverFollowsLinks(t *testing.T) {
	needRoot(t)
	outside := t.TempDir()
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	data, err := ocitest.Tar(ocitest.Entry{Name: "out/evil", Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	err = newExtractor(root, DefaultLimits, nil).extract(strings.NewReader(string(data)))
	if err == nil || !strings.Contains(err.Error(), `"out" in its way is not a directory`) {
		t.Errorf("extract: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("written outside: %v", entries)
	}
}

func TestFlattenChecksLayerDigests(t *testing.T) {
	needRoot(t)
	img := image(t, run, []ocitest.Entry{{Name: "a", Body: "a"}})
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	tampered, err := mutateConfig(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = flatten(t, tampered)
	if err == nil || !strings.Contains(err.Error(), "but the image's config says sha256:0000") {
		t.Errorf("flattening a layer that is not what the config says: %v", err)
	}
}

func TestFlattenLimits(t *testing.T) {
	needRoot(t)
	checked, err := checkImage(image(t, run, []ocitest.Entry{{Name: "a", Body: strings.Repeat("x", 4096)}, {Name: "b", Body: "b"}}))
	if err != nil {
		t.Fatal(err)
	}
	err = extractInto(checked, t.TempDir(), Limits{MaxBytes: 1024, MaxEntries: 10}, nil)
	if err == nil || !strings.Contains(err.Error(), `entry "a": the image's files are more than 0 MiB together`) {
		t.Errorf("over MaxBytes: %v", err)
	}
	err = extractInto(checked, t.TempDir(), Limits{MaxBytes: 1 << 20, MaxEntries: 1}, nil)
	if err == nil || !strings.Contains(err.Error(), "more than 1 entries") {
		t.Errorf("over MaxEntries: %v", err)
	}
}

func TestProcessOf(t *testing.T) {
	img := image(t, v1.Config{}, []ocitest.Entry{{Name: "a"}})
	cf, _ := img.ConfigFile()
	if _, err := ProcessOf(cf); !errors.Is(err, ErrNoProcess) {
		t.Errorf("ProcessOf(no entrypoint, no cmd) = %v", err)
	}
	cf.Config = v1.Config{Cmd: []string{"nginx"}, Env: []string{"A=1"}, WorkingDir: "/srv", User: "www:www", StopSignal: "SIGQUIT"}
	p, err := ProcessOf(cf)
	if err != nil || strings.Join(p.Args, " ") != "nginx" || p.User != "www:www" || p.StopSignal != "SIGQUIT" || p.WorkingDir != "/srv" {
		t.Errorf("ProcessOf = %+v, %v", p, err)
	}
	cf.Config.StopSignal = "SIGNOPE"
	if _, err := ProcessOf(cf); err == nil {
		t.Error("ProcessOf accepted stop signal SIGNOPE")
	}
	cf.Config.StopSignal = ""
	cf.Architecture = "s390x"
	if _, err := ProcessOf(cf); err == nil || !strings.Contains(err.Error(), "the image is for s390x") {
		t.Errorf("ProcessOf(s390x image) = %v", err)
	}
}

func debugfs(t *testing.T, disk, request string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", request, disk).Output()
	if err != nil {
		t.Fatalf("debugfs -R %q %s: %v", request, disk, err)
	}
	return string(out)
}
