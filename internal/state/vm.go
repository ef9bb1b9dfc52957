package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
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
			vms = append(vms, VM{Name: name, Dir: d.VMPath(name), Problems: []string{"not a VM directory (" + kindOf(e.Type()) + ")"}})
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
	vm.Old, _ = readLink(vm.Dir, OldLink)
	vm.Toplevel, _ = readLink(vm.Dir, ToplevelLink)
	if src, err := ReadSource(vm.Dir); err == nil {
		vm.Source = &src
	} else if !errors.Is(err, ErrNoSource) {
		vm.Problems = append(vm.Problems, err.Error())
	}
	p, err := ReadProcess(vm.Dir)
	if err != nil {
		vm.Problems = append(vm.Problems, err.Error())
	}
	if p != nil {
		vm.Process, vm.Running = p, p.Alive()
	}
	return vm
}

// runnerLink reads a runner link and its runner's system link, recording
// a problem when the link is not a symlink or its runner is gone.
func (vm *VM) runnerLink(link string) (runner, system string) {
	runner, err := readLink(vm.Dir, link)
	if errors.Is(err, syscall.EINVAL) {
		vm.Problems = append(vm.Problems, link+" is not a symlink")
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
		vm.Problems = append(vm.Problems, fmt.Sprintf("%s -> %s: runner missing", link, runner))
	}
	return runner, ""
}

func kindOf(t os.FileMode) string {
	switch {
	case t&os.ModeSymlink != 0:
		return "symlink"
	case t.IsRegular():
		return "regular file"
	default:
		return t.Type().String()
	}
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
