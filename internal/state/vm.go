package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/trust"
)

// systemLink is the runner file naming the guest system (runner.SystemLink;
// repeated here because state must not depend on the runner format).
const systemLink = "share/microvm/system"

// VM is what the state directory says about one VM. Inspect fills it with
// a handful of readlinks and never reads runner contents, so listing
// thousands of VMs stays cheap.
type VM struct {
	Name          string
	Dir           string
	Current       string // absolute runner paths; "" when the link is absent
	Booted        string
	Old           string
	CurrentSystem string // share/microvm/system targets; "" when the runner has none
	BootedSystem  string
	Toplevel      string  // set for fully declarative VMs
	Source        *Source // nil when none is recorded
	Process       *Process
	Running       bool     // Process is alive
	Problems      []string // what is wrong with this entry; the rest is best effort
	// Ignored are records microvm did not write (the VM user can create
	// entries in its directory), each with why; they count as absent.
	Ignored []string
	// Owner is the tool that created the VM (see Owner); OwnerNone when
	// made by hand, or when the record is not root's (then in Ignored).
	Owner Owner
}

// Broken reports whether the entry cannot be treated as a working VM.
func (vm *VM) Broken() bool { return len(vm.Problems) > 0 }

// List inspects every entry of the state directory, sorted by name.
// Entries that are not VM directories are returned with a problem rather
// than failing the listing. A missing state directory has no VMs.
func (d *Dir) List() ([]VM, error) {
	entries, err := os.ReadDir(d.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing state directory: %w", err)
	}
	vms := make([]VM, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue // the state directory's own entries
		}
		if !e.IsDir() {
			vms = append(vms, VM{Name: name, Dir: d.VMPath(name), Problems: []string{"not a VM directory (" + printable.FileKind(e.Type()) + ")"}})
			continue
		}
		vms = append(vms, d.Inspect(name))
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	return vms, nil
}

// Inspect reads what the state directory holds for the VM name.
func (d *Dir) Inspect(name string) VM {
	vm := VM{Name: name, Dir: d.VMPath(name)}
	if err := CheckName(name); err != nil {
		vm.Problems = append(vm.Problems, err.Error())
		return vm
	}
	vm.Current, vm.CurrentSystem = vm.runnerLink(CurrentLink)
	if vm.Current == "" && !vm.Broken() {
		if _, err := os.Lstat(vm.Dir); err != nil {
			vm.Problems = append(vm.Problems, "no such VM")
			return vm
		}
		vm.Problems = append(vm.Problems, "no current link")
	}
	vm.Booted, vm.BootedSystem = vm.runnerLink(BootedLink)
	vm.Old = vm.link(OldLink)
	vm.Toplevel = vm.link(ToplevelLink)
	src, forged, err := readSource(vm.Dir)
	if forged != nil {
		vm.Ignored = append(vm.Ignored, forged.Error())
	}
	switch {
	case err != nil:
		vm.Problems = append(vm.Problems, err.Error())
	case src.Kind != "":
		vm.Source = &src
	}
	owner, err := readOwner(vm.Dir)
	switch {
	case errors.Is(err, trust.ErrUntrusted):
		vm.Ignored = append(vm.Ignored, err.Error())
	case err != nil:
		vm.Problems = append(vm.Problems, err.Error())
	default:
		vm.Owner = owner
	}
	p, err := ReadProcess(vm.Dir)
	switch {
	case errors.Is(err, trust.ErrUntrusted):
		vm.Ignored = append(vm.Ignored, err.Error())
	case err != nil:
		vm.Problems = append(vm.Problems, err.Error())
	case p != nil:
		vm.Process, vm.Running = p, p.Alive()
	}
	return vm
}

// link reads a link that is not a runner link (old, toplevel), ignoring
// one microvm did not write.
func (vm *VM) link(name string) string {
	t, err := readLink(vm.Dir, name)
	if errors.Is(err, trust.ErrUntrusted) {
		vm.Ignored = append(vm.Ignored, err.Error())
	}
	return t
}

// runnerLink reads a runner link and its runner's system link, recording
// a problem when the link is not a symlink or its runner is gone.
func (vm *VM) runnerLink(link string) (runner, system string) {
	runner, err := readLink(vm.Dir, link)
	if errors.Is(err, trust.ErrUntrusted) {
		// current must be root's to run at all; a booted link the VM user
		// planted is ignored, so teardown never uses another VM's runner.
		if link == CurrentLink {
			vm.Problems = append(vm.Problems, err.Error())
		} else {
			vm.Ignored = append(vm.Ignored, err.Error())
		}
		return "", ""
	}
	if err != nil || runner == "" {
		if err != nil {
			vm.Problems = append(vm.Problems, err.Error())
		}
		return "", ""
	}
	system, err = os.Readlink(filepath.Join(runner, systemLink))
	if err == nil {
		return runner, system
	}
	// No system link: the common case for runners with a store disk, or
	// a runner that vanished. Only now is the extra stat worth it.
	if _, serr := os.Stat(runner); serr != nil {
		vm.Problems = append(vm.Problems, fmt.Sprintf("%s -> %s: runner missing", link, printable.String(runner)))
	}
	return runner, ""
}

// Remove deletes the VM's directory. It is first renamed into TmpDir, so
// an interruption leaves either the whole VM or nothing under its name;
// the caller must hold the VM's lock.
func (d *Dir) Remove(name string) error {
	if err := d.ensure(); err != nil {
		return err
	}
	trash, err := os.MkdirTemp(filepath.Join(d.Root, TmpDir), stagingPrefix(name))
	if err != nil {
		return fmt.Errorf("removing VM %q: %w", name, err)
	}
	dst := filepath.Join(trash, name)
	if err := os.Rename(d.VMPath(name), dst); err != nil {
		os.Remove(trash)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing VM %q: %w", name, ErrNotExist)
		}
		return fmt.Errorf("removing VM %q: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("removing VM %q: %w", name, err)
	}
	return nil
}
