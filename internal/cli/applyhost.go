package cli

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

// applyHost carries out apply's steps with the verbs' own code, each VM's
// step printing to a buffer of its own (steps run in parallel), shown
// under the step's result.
type applyHost struct {
	e   *env
	cfg *hostconfig.Config
	mu  sync.Mutex
	out map[string]*bytes.Buffer
}

// envFor is the env of name's step: the command's, printing to the
// step's buffer.
func (h *applyHost) envFor(name string) *env {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.out[name]
	if b == nil {
		b = &bytes.Buffer{}
		h.out[name] = b
	}
	se := *h.e
	se.stdout = &lockedWriter{mu: &h.mu, w: b}
	return &se
}

func (h *applyHost) output(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b := h.out[name]; b != nil {
		return b.String()
	}
	return ""
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *applyHost) Create(ctx context.Context, name string, src state.Source) error {
	e := h.envFor(name)
	if err := createOwned(ctx, e, name, src, state.OwnerApply); err != nil {
		return err
	}
	e.printf("Created MicroVM %s from %s.\n", name, src)
	return nil
}

func (h *applyHost) Start(ctx context.Context, name string) error {
	return startVM(ctx, h.envFor(name), "start", name)
}

func (h *applyHost) Restart(ctx context.Context, name string) error {
	if err := h.mine(ctx, name); err != nil {
		return err
	}
	return restartVM(ctx, h.envFor(name), name)
}

func (h *applyHost) Update(ctx context.Context, name string, src state.Source, record, restart bool) error {
	e := h.envFor(name)
	if record {
		d, unlock, err := lockVM(ctx, e, name, "updating")
		if err != nil {
			return err
		}
		err = h.mineLocked(d, name)
		if err == nil {
			err = state.WriteSource(d.VMPath(name), src)
		}
		unlock()
		if err != nil {
			return err
		}
	} else if err := h.mine(ctx, name); err != nil {
		return err
	}
	return update(ctx, e, name, restart)
}

// Remove stops name (outside its lock: the stop's teardown takes it),
// then, under the lock, moves its data aside, or deletes it with purge,
// and cleans up after it as remove does.
func (h *applyHost) Remove(ctx context.Context, name string, purge bool) (string, error) {
	e := h.envFor(name)
	if err := h.mine(ctx, name); err != nil {
		return "", err
	}
	// host.toml no longer has the VM's stop times: the host's apply.
	if err := stop(ctx, e, name, supervisor.LadderOf(h.cfg.StopFor(name))); err != nil {
		return "", err
	}
	d, err := e.state()
	if err != nil {
		return "", err
	}
	// A booted link left by a crash: tear down from it first, as the
	// daemon does for a VM whose monitor died.
	if vm := d.Inspect(name); vm.Booted != "" && !vm.Running {
		if err := cleanupDead(ctx, e, d, name); err != nil {
			return "", fmt.Errorf("removing %q: cleaning up after its last run: %w", name, err)
		}
	}
	d, unlock, err := lockVM(ctx, e, name, "removing")
	if err != nil {
		return "", err
	}
	defer unlock()
	if err := h.mineLocked(d, name); err != nil {
		return "", err
	}
	if vm := d.Inspect(name); vm.Running || vm.Booted != "" {
		return "", fmt.Errorf("removing %q: it runs again (started meanwhile); apply again once it is stopped", name)
	}
	kept := ""
	if purge {
		err = d.Remove(name)
	} else {
		kept, err = d.Retire(name, time.Now())
	}
	if err != nil {
		return kept, err
	}
	if err := supervisor.RemoveExit(state.RuntimeDir(), name); err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	if err := removeGCRoots(name); err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	if _, err := d.GC(ctx); err != nil {
		fmt.Fprintf(e.stderr, "microvm: warning: %v\n", err)
	}
	return kept, nil
}

// mine checks that name is still apply's: the plan was made before the
// step, and another command may have replaced the VM since.
func (h *applyHost) mine(ctx context.Context, name string) error {
	d, unlock, err := lockVM(ctx, h.e, name, "applying to")
	if err != nil {
		return err
	}
	defer unlock()
	return h.mineLocked(d, name)
}

func (h *applyHost) mineLocked(d *state.Dir, name string) error {
	o, err := d.ReadOwner(name)
	if err != nil {
		return err
	}
	if o != state.OwnerApply {
		return fmt.Errorf("%q is no longer apply's (owner %q); left alone", name, o)
	}
	return nil
}
