package hostprep

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/microvm-host/microvm/internal/cloudinit"
	"github.com/microvm-host/microvm/internal/generate"
	"github.com/microvm-host/microvm/internal/hypervisor"
	"github.com/microvm-host/microvm/internal/hypervisor/qemu"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/spec"
	"github.com/microvm-host/microvm/internal/state"
)

// vmUID is the VM user of these tests: nobody, as on Debian.
const vmUID = 65534

// seedVM builds a runner with a cloud-init seed from a spec in a
// root-owned directory, and a VM directory like create makes it.
func seedVM(t *testing.T) (p *Prep, vmDir string, r *runner.Runner, specDir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the seed is chowned to the VM group")
	}
	root := t.TempDir()
	specDir = filepath.Join(root, "specs")
	must(t, os.Mkdir(specDir, 0o755))
	must(t, os.WriteFile(filepath.Join(specDir, "vmlinuz"), []byte("kernel"), 0o644))
	must(t, os.WriteFile(filepath.Join(specDir, "user-data"), []byte("#cloud-config\npassword: secret\n"), 0o600))
	path := filepath.Join(specDir, "vm.toml")
	must(t, os.WriteFile(path, []byte("kernel = \"vmlinuz\"\n[cloudInit]\nuserDataFile = \"user-data\"\nhostname = \"web-1\"\n"), 0o644))
	s, err := spec.Parse(path)
	must(t, err)
	s.ResolvePaths(specDir)
	pkg, err := generate.Runner(t.Context(), s, generate.Options{SpecPath: path, Microvm: "/usr/bin/microvm",
		Generator: qemu.Generator{}, Facts: hypervisor.Facts{Arch: "x86_64"}})
	must(t, err)
	dir := filepath.Join(root, "runner")
	must(t, runner.Write(dir, pkg))
	r, err = runner.Load(dir)
	must(t, err)

	stateDir := filepath.Join(root, "state")
	must(t, os.Mkdir(stateDir, 0o755))
	vmDir = filepath.Join(stateDir, "vm")
	must(t, os.Mkdir(vmDir, 0o755))
	must(t, os.Chown(vmDir, 0, vmUID))
	must(t, os.Chmod(vmDir, state.VMDirMode))
	p = &Prep{ID: Identity{User: "nobody", Group: "nogroup", UID: vmUID, GID: vmUID, Switch: true}}
	return p, vmDir, r, specDir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSeedUp: the seed lands in the VM directory as root:GROUP 0640 with
// the spec's content, nothing stays in the staging area, and teardown
// removes it.
func TestSeedUp(t *testing.T) {
	p, vmDir, r, _ := seedVM(t)
	// The VM user planted a link where the seed goes: it is replaced,
	// not followed.
	target := filepath.Join(t.TempDir(), "victim")
	must(t, os.WriteFile(target, []byte("root's"), 0o644))
	seedPath := filepath.Join(vmDir, state.SeedFile)
	must(t, os.Symlink(target, seedPath))
	must(t, os.Lchown(seedPath, vmUID, vmUID))

	must(t, p.Setup(t.Context(), vmDir, r))
	fi, err := os.Lstat(seedPath)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != SeedMode || st.Uid != 0 || st.Gid != vmUID {
		t.Errorf("seed is %v uid %d gid %d; want a regular file 0640 root:%d", fi.Mode(), st.Uid, st.Gid, vmUID)
	}
	if b, _ := os.ReadFile(target); string(b) != "root's" {
		t.Errorf("the link's target was written: %q", b)
	}
	label, files, err := cloudinit.ReadISO(seedPath)
	must(t, err)
	if label != cloudinit.Label || string(files[cloudinit.UserDataFile]) != "#cloud-config\npassword: secret\n" ||
		!strings.Contains(string(files[cloudinit.MetaDataFile]), `local-hostname: "web-1"`) {
		t.Errorf("seed %q holds %q", label, files)
	}
	tmp, _ := os.ReadDir(filepath.Join(filepath.Dir(vmDir), state.TmpDir))
	if len(tmp) != 0 {
		t.Errorf("left in the staging area: %v", tmp)
	}

	must(t, p.Teardown(t.Context(), vmDir, r))
	if _, err := os.Lstat(seedPath); !os.IsNotExist(err) {
		t.Errorf("teardown left the seed: %v", err)
	}
	must(t, p.Teardown(t.Context(), vmDir, r)) // twice is harmless
}

// TestSeedRefused: content that changed since the build, and files the
// VM user could change, are refused, and no seed is written.
func TestSeedRefused(t *testing.T) {
	p, vmDir, r, specDir := seedVM(t)
	ud := filepath.Join(specDir, "user-data")
	seedPath := filepath.Join(vmDir, state.SeedFile)

	must(t, os.WriteFile(ud, []byte("#cloud-config\npassword: other\n"), 0o600))
	err := p.Setup(t.Context(), vmDir, r)
	if err == nil || !strings.Contains(err.Error(), "changed since the runner was built") || !strings.Contains(err.Error(), "microvm update vm") {
		t.Errorf("changed user-data: %v", err)
	}

	must(t, os.WriteFile(ud, []byte("#cloud-config\npassword: secret\n"), 0o600))
	must(t, os.Chown(ud, vmUID, vmUID))
	if err := p.Setup(t.Context(), vmDir, r); err == nil || !strings.Contains(err.Error(), "not reading cloudInit.userDataFile") {
		t.Errorf("user-data the VM user owns: %v", err)
	}
	must(t, os.Chown(ud, 0, 0))

	// Over the seed's limit at start, though it fitted at build.
	big := make([]byte, cloudinit.MaxContent+1)
	must(t, os.WriteFile(ud, big, 0o600))
	if err := p.Setup(t.Context(), vmDir, r); err == nil || !strings.Contains(err.Error(), "a cloud-init seed holds at most 1048576 (1 MiB)") {
		t.Errorf("user-data over the limit: %v", err)
	}
	if _, err := os.Lstat(seedPath); !os.IsNotExist(err) {
		t.Errorf("a refused setup wrote the seed: %v", err)
	}
}
