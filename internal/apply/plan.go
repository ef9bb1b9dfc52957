// Package apply makes the state directory what host.toml declares: its
// [vm.NAME] tables with a source are the VMs that should exist. Compute
// compares them with the state directory and says, per VM, what to do and
// why (a Plan); Execute carries a plan out through a Host, which does the
// steps (create, update, restart, remove) the way the CLI verbs do.
//
// apply only ever changes VMs whose owner record says it created them
// (state.OwnerApply): a VM made by hand, or by another tool, under a
// declared name is kept as it is.
package apply

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/source"
	"github.com/microvm-host/microvm/internal/state"
)

// Action is what a step does to one VM.
type Action string

// The actions, in the words the plan prints.
const (
	Create  Action = "create"
	Update  Action = "update"
	Restart Action = "restart"
	Remove  Action = "stop and remove"
	Keep    Action = "keep"
)

// Step is what the plan does to one VM, and why.
type Step struct {
	Name   string
	Action Action
	Reason string
	// Source is what Create and Update build from; SourceChanged says
	// that Update records it first (host.toml names another source than
	// the one the VM was created from).
	Source        state.Source
	SourceChanged bool
	// Start: Create starts the VM once created ([vm.NAME] autostart).
	Start bool
	// RestartIfChanged: Update restarts the VM if it runs another
	// runner than the new current one.
	RestartIfChanged bool
	// Purge: Remove deletes the VM's data instead of keeping it.
	Purge bool
	// Err is why the step cannot be carried out (a source that does not
	// parse or cannot be evaluated): it fails, and the others go on.
	Err error
}

// Plan is one step per declared VM and per VM apply created that is no
// longer declared, sorted by name.
type Plan struct {
	Steps []Step
}

// Changes counts the steps that change something.
func (p *Plan) Changes() int {
	n := 0
	for _, s := range p.Steps {
		if s.Action != Keep {
			n++
		}
	}
	return n
}

// String is the plan as printed: one line per VM, then "nothing to do"
// when no step changes anything.
func (p *Plan) String() string {
	var b strings.Builder
	width := 0
	for _, s := range p.Steps {
		width = max(width, len(s.Name))
	}
	for _, s := range p.Steps {
		reason := s.Reason
		if s.Err != nil {
			reason = "cannot: " + s.Err.Error()
		}
		fmt.Fprintf(&b, "  %-*s  %-15s  %s\n", width, s.Name, s.Action, reason)
	}
	if p.Changes() == 0 {
		b.WriteString("Nothing to do.\n")
	}
	return b.String()
}

// Expecter says what a source would build now without building it;
// *source.Builder is one.
type Expecter interface {
	Expect(ctx context.Context, src state.Source, name, current string, withSystem bool) (source.Expected, error)
}

// World is what Compute reads besides host.toml and the state directory.
type World struct {
	Expect Expecter
	// Parse turns a declared source into a source record; nil is
	// source.Parse.
	Parse func(ref, name string) (state.Source, error)
	// Check vets a source before it is read (as root: one the VM user
	// could change is refused); nil accepts every source.
	Check func(state.Source) error
	// StorePath is where the state store keeps a runner of that content
	// hash (state.Dir.StorePath).
	StorePath func(hash string) string
}

// Compute plans how the VMs of the state directory (vms, as state.Dir.List
// returns them) become what cfg declares. It reads sources (through w)
// but changes nothing.
func Compute(ctx context.Context, cfg *hostconfig.Config, vms []state.VM, w World) *Plan {
	if w.Parse == nil {
		w.Parse = source.Parse
	}
	have := make(map[string]*state.VM, len(vms))
	for i := range vms {
		have[vms[i].Name] = &vms[i]
	}
	p := &Plan{}
	// Sources shared by several VMs are evaluated once.
	cache := map[expectKey]expectResult{}
	for _, name := range cfg.Declared() {
		p.Steps = append(p.Steps, planDeclared(ctx, name, cfg.VM[name], have[name], w, cache))
	}
	for i := range vms {
		vm := &vms[i]
		if vm.Owner != state.OwnerApply || cfg.VM[vm.Name].Source != "" {
			continue
		}
		purge := cfg.VM[vm.Name].PurgeOnRemove
		reason := "created by apply, no longer declared; its data is kept"
		if purge {
			reason = "created by apply, no longer declared; its data is deleted (purgeOnRemove)"
		}
		p.Steps = append(p.Steps, Step{Name: vm.Name, Action: Remove, Reason: reason, Purge: purge})
	}
	sort.Slice(p.Steps, func(i, j int) bool { return p.Steps[i].Name < p.Steps[j].Name })
	return p
}

func planDeclared(ctx context.Context, name string, decl hostconfig.VM, vm *state.VM, w World, cache map[expectKey]expectResult) Step {
	st := Step{Name: name, RestartIfChanged: decl.RestartIfChanged}
	if vm != nil && vm.Owner != state.OwnerApply {
		st.Action = Keep
		if vm.Owner == state.OwnerNone {
			// Handing it over keeps its data, unlike removing it.
			st.Reason = fmt.Sprintf("made by hand, so apply leaves it alone; to hand it to apply, as root: echo apply > %s", filepath.Join(vm.Dir, state.OwnerFile))
		} else {
			st.Reason = fmt.Sprintf("created by %s, so apply leaves it alone", vm.Owner)
		}
		return st
	}
	st.Action = Create
	if vm != nil {
		st.Action = Update
	}
	src, err := w.Parse(decl.Source, name)
	if err != nil {
		st.Err = err
		return st
	}
	st.Source = src
	if w.Check != nil {
		if err := w.Check(src); err != nil {
			st.Err = err
			return st
		}
	}
	if vm == nil {
		st.Reason = "declared and missing"
		if decl.Autostart {
			st.Start, st.Reason = true, st.Reason+"; then started (autostart)"
		}
		return st
	}
	if vm.Broken() {
		st.Err = fmt.Errorf("the VM is broken: %s", strings.Join(vm.Problems, "; "))
		return st
	}
	then := ""
	if decl.RestartIfChanged && vm.Booted != "" {
		then = "; then restarted if it runs another runner (restartIfChanged)"
	}
	if vm.Source == nil || *vm.Source != src {
		st.SourceChanged = true
		was := "none"
		if vm.Source != nil {
			was = vm.Source.String()
		}
		st.Reason = fmt.Sprintf("source changed from %s to %s%s", was, src, then)
		return st
	}
	outdated, err := isOutdated(ctx, vm, src, w, cache)
	switch {
	case err != nil:
		st.Err = fmt.Errorf("cannot tell what %s builds now: %w", src, err)
		return st
	case outdated:
		st.Reason = "the source builds something else than current" + then
		return st
	}
	if vm.Booted != "" && version(vm.BootedSystem, vm.Booted) != version(vm.CurrentSystem, vm.Current) {
		if decl.RestartIfChanged {
			st.Action, st.Reason = Restart, "booted differs from current (restartIfChanged)"
			return st
		}
		st.Action, st.Reason = Keep, "booted differs from current; restart it to boot current, or set restartIfChanged"
		return st
	}
	st.Action, st.Reason = Keep, "up to date"
	return st
}

type expectKey struct {
	src        state.Source
	name       string
	current    string // spec sources compare against the build record of current
	withSystem bool
}

type expectResult struct {
	exp source.Expected
	err error
}

// isOutdated reports whether src builds another version than the VM's
// current runner, as list's "outdated" says.
func isOutdated(ctx context.Context, vm *state.VM, src state.Source, w World, cache map[expectKey]expectResult) (bool, error) {
	k := expectKey{src: src, name: vm.Name, withSystem: vm.CurrentSystem != ""}
	if src.Kind == state.SourceSpec {
		k.current = vm.Current
	}
	r, ok := cache[k]
	if !ok {
		r.exp, r.err = w.Expect.Expect(ctx, src, vm.Name, vm.Current, k.withSystem)
		cache[k] = r
	}
	switch {
	case r.err != nil:
		return false, r.err
	case r.exp.System != "":
		return r.exp.System != vm.CurrentSystem, nil
	case r.exp.Hash != "":
		if w.StorePath == nil {
			return false, fmt.Errorf("no state store to compare a content hash with")
		}
		return w.StorePath(r.exp.Hash) != vm.Current, nil
	default:
		return r.exp.Runner != vm.Current, nil
	}
}

// version is what identifies a runner: the guest system it names, or
// itself.
func version(system, runner string) string {
	if system != "" {
		return system
	}
	return runner
}
