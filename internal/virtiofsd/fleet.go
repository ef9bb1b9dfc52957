package virtiofsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Fleet is the running virtiofsd daemons of one VM.
type Fleet struct {
	vm      string
	cfg     Config
	flavor  Flavor
	daemons []*daemon

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisors

	stopOnce sync.Once
	stopErr  error

	failOnce sync.Once
	failed   chan struct{} // closed when a share is given up
	failErr  error
}

// daemon is the supervised virtiofsd of one share.
type daemon struct {
	share Share
	args  []string
	log   *slog.Logger

	mu   sync.Mutex
	proc *proc // current run
}

func (d *daemon) current() *proc {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.proc
}

// Start runs one virtiofsd per share and returns once every socket listens
// (all of them: microvm.nix #382 signalled ready with one missing). If one
// does not listen within ReadyTimeout, or exits, or ctx ends first, all
// are stopped and Start fails. ctx only bounds Start; the fleet runs until
// Stop.
//
// Sources that do not exist are created (0755); a source that is not a
// directory, a socket whose directory is missing, or a non-socket file at
// a socket path is refused before anything starts.
func Start(ctx context.Context, vm string, shares []Share, c Config) (*Fleet, error) {
	c = c.withDefaults()
	fail := func(err error) (*Fleet, error) {
		return nil, fmt.Errorf("starting virtiofsd for VM %q: %w", vm, err)
	}
	shares = slices.Clone(shares)
	if err := prepare(shares, c.VMUser); err != nil {
		return fail(err)
	}
	f := &Fleet{vm: vm, cfg: c, failed: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	if len(shares) == 0 {
		return f, nil // nothing to run, and no need for a virtiofsd
	}
	binary, flavor, err := resolve(c.Binary)
	if err == nil && c.AnnounceTags && flavor != Rust {
		err = fmt.Errorf("%s is the C virtiofsd, which cannot announce a share's mount tag (it has no --tag), and this VM's hypervisor (crosvm) reads the tag from virtiofsd: install the Rust virtiofsd (package virtiofsd) and make it the first one found (%s)",
			binary, strings.Join(DefaultCandidates, ", "))
	}
	if err != nil {
		f.cancel()
		return fail(err)
	}
	f.flavor = flavor
	begin := time.Now()
	for _, s := range shares {
		d := &daemon{share: s, args: Args(flavor, binary, s, c), log: c.Log.With("vm", vm, "tag", s.Tag)}
		d.proc = spawn(d.args, d.log)
		f.daemons = append(f.daemons, d)
	}
	if err := f.waitReady(ctx, f.daemons); err != nil {
		f.cancel()
		return fail(errors.Join(err, f.stopAll()))
	}
	c.Log.Info("virtiofsd ready", "vm", vm, "shares", len(shares), "flavor", flavor, "took", time.Since(begin))
	for _, d := range f.daemons {
		f.wg.Add(1)
		go f.supervise(d)
	}
	return f, nil
}

// Stop ends the fleet: SIGTERM to every daemon's process group, SIGKILL
// after StopTimeout, then it removes the sockets and pid files. Daemons
// are not restarted any more. It is safe to call more than once.
func (f *Fleet) Stop() error {
	f.stopOnce.Do(func() {
		f.cancel()
		f.wg.Wait()
		if err := f.stopAll(); err != nil {
			f.stopErr = fmt.Errorf("stopping virtiofsd of VM %q: %w", f.vm, err)
		}
		f.cfg.Log.Info("virtiofsd stopped", "vm", f.vm, "shares", len(f.daemons))
	})
	return f.stopErr
}

// stopAll terminates all daemons in parallel, so that N daemons ignoring
// SIGTERM take one StopTimeout, not N, and cleans up after them.
func (f *Fleet) stopAll() error {
	var wg sync.WaitGroup
	for _, d := range f.daemons {
		wg.Go(func() {
			if d.current().terminate(f.cfg.StopTimeout) {
				d.log.Warn("virtiofsd ignored SIGTERM; killed", "timeout", f.cfg.StopTimeout)
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, d := range f.daemons {
		if err := cleanup(d.share, f.flavor); err != nil {
			errs = append(errs, fmt.Errorf("share %q: %w", d.share.Tag, err))
		}
	}
	return errors.Join(errs...)
}

// Ready waits until every share's daemon listens, as after Start. Both
// flavors serve one VM connection and exit with it, and the fleet then
// restarts them: a VM that restarts must call Ready before it connects
// again. It fails if ctx ends, the fleet stops, or a share was given up.
func (f *Fleet) Ready(ctx context.Context) error {
	for {
		all := true
		for _, d := range f.daemons {
			if p := d.current(); !p.ready.Load() || p.hasExited() {
				all = false
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for virtiofsd of VM %q: %w", f.vm, context.Cause(ctx))
		case <-f.ctx.Done():
			return fmt.Errorf("waiting for virtiofsd of VM %q: fleet stopped", f.vm)
		case <-f.failed:
			return f.failErr
		case <-time.After(readyPoll):
		}
	}
}

// Wait blocks until Stop is called, returning nil, or until a share's
// daemon kept crashing and was given up, returning why; the other daemons
// then still run and the caller is expected to Stop the fleet.
func (f *Fleet) Wait() error {
	select {
	case <-f.failed:
		return f.failErr
	case <-f.ctx.Done():
		select {
		case <-f.failed:
			return f.failErr
		default:
			return nil
		}
	}
}

func (f *Fleet) giveUp(err error) {
	f.failOnce.Do(func() {
		f.failErr = fmt.Errorf("virtiofsd of VM %q: %w", f.vm, err)
		close(f.failed)
	})
}
