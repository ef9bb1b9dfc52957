package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/supervisor"
)

func newDaemonCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Supervise VMs: restart policy, autostart, re-adoption, API",
		Long: `Run the supervisor in the foreground. It serves the JSON API the
start/stop/restart/status verbs use on $MICROVM_RUNTIME_DIR/` + api.SocketName + `
(root:GROUP 0660), starts the host configuration's autostart VMs, and
restarts VMs by its restart policy. Each VM runs in a monitor process of
its own session (microvm run --monitor), so VMs outlive the daemon: a
restarted daemon re-adopts them, and cleans up after those that died
meanwhile. As root it brings up host.toml's managed networks and serves
their DHCP. SIGTERM/SIGINT stop all VMs in parallel, then the daemon,
which removes the networks no VM uses any more.
host.toml's declared VMs ([vm.NAME] source) are applied (microvm apply)
when the daemon starts, at SIGHUP, and with watchConfig = true whenever
the file changes; the daemon's other settings are read at its start.
Members of GROUP may read status and GET /metrics (Prometheus metrics,
see microvm metrics); start, stop and restart are for root and host.toml's
apiAdminGroup, never for the VM user. host.toml's metricsListen (IP:PORT)
serves the metrics over TCP as well, without authentication.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), e)
		},
	}
}

func runDaemon(ctx context.Context, e *env) error {
	cfg, err := e.loadHostConfig()
	if err != nil {
		return err
	}
	// As root, VMs run as the configured user: say now what is missing,
	// not at each VM's start.
	if os.Geteuid() == 0 {
		if err := cfg.Check(); err != nil {
			return err
		}
	}
	policy := restartPolicy(cfg)
	if err := policy.Check(); err != nil {
		return fmt.Errorf("%s: %w", e.hostConfigPath(), err)
	}
	d, err := e.state()
	if err != nil {
		return err
	}
	// The binary NewBuilder resolved: what generated runners call, too.
	self := e.builder.Microvm
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	sweep(ctx, e)
	runtime := state.RuntimeDir()
	dm := &supervisor.Daemon{
		State: d, Runtime: runtime, Microvm: self, Config: cfg, ConfigPath: e.hostConfigPath(), Policy: policy, Log: log,
		Env:     append(os.Environ(), hostconfig.EnvPath+"="+e.hostConfigPath(), state.EnvRuntimeDir+"="+runtime),
		Cleanup: func(name string) error { return cleanupDead(ctx, e, d, name) },
	}
	if dm.ShutdownAs, err = e.shutdownCredential(); err != nil {
		return err
	}
	dm.Addresses = vmAddresses(d)
	gid := -1
	if os.Geteuid() == 0 {
		if g, err := user.LookupGroup(cfg.Group); err == nil {
			gid, _ = strconv.Atoi(g.Gid)
		}
	}
	if err := os.MkdirAll(runtime, 0o755); err != nil {
		return err
	}
	// The API's connection caps keep fds for the supervisor's own work
	// (see api.LimitsFor), so they are sized after raising the limit.
	nofile, err := api.RaiseNoFile()
	if err != nil {
		log.Warn("open file limit", "err", err)
	}
	lim, err := api.LimitsFor(nofile)
	if err != nil {
		log.Warn("open file limit", "err", err)
	}
	access, err := api.NewAccess(cfg.User, cfg.APIAdminGroup, "/proc")
	if err != nil {
		return fmt.Errorf("%s: %w", e.hostConfigPath(), err)
	}
	ln, err := api.Listen(filepath.Join(runtime, api.SocketName), gid)
	if err != nil {
		return err
	}
	sctx, stop := signal.NotifyContext(context.WithoutCancel(ctx), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	vctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	apiMetrics := daemonMetrics(reg, dm, log)
	if cfg.MetricsListen != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsListen, reg, apiMetrics, log)
		if err != nil {
			ln.Close()
			return fmt.Errorf("%s: %w", e.hostConfigPath(), err)
		}
		defer stopMetrics()
	}
	stopNetworks, err := startNetworks(vctx, e, log)
	if err != nil {
		ln.Close()
		return err
	}
	if err := dm.Start(vctx); err != nil {
		ln.Close()
		return errors.Join(err, stopNetworks())
	}
	srv := api.NewServer(api.WithMetrics(api.Handler(dm, access, log), reg, apiMetrics), lim, log)
	go func() {
		if err := srv.Serve(api.LimitListener(ln, lim, log)); !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "err", err)
		}
	}()
	watchDeclared(sctx, vctx, e, cfg, dm, hup, log)
	log.Info("daemon ready", "socket", ln.Addr().String(), "state", d.Root, "nofile", nofile, "connections", lim.Total, "perUID", lim.PerUID)
	<-sctx.Done()
	log.Info("stopping all VMs")
	err = dm.Shutdown(dm.LongestStop() + 5*time.Second)
	// Event streams get the VMs' stops before the server closes them.
	dm.CloseEvents()
	drain, cancelDrain := context.WithTimeout(context.Background(), time.Second)
	srv.Shutdown(drain)
	cancelDrain()
	srv.Close()
	cancel()
	return errors.Join(err, stopNetworks())
}

// cleanupDead tears down after a VM whose monitor died: host preparation
// undone from booted, then booted removed (see run's shutdownBooted).
func cleanupDead(ctx context.Context, e *env, d *state.Dir, name string) error {
	vm := d.Inspect(name)
	if vm.Booted == "" || vm.Running {
		return nil
	}
	booted, err := checkTrusted(d, vm.Booted)
	if err != nil {
		return err
	}
	r, err := runner.Load(booted)
	if err != nil {
		return errors.Join(invalidRunner(booted, err))
	}
	prep, err := e.prep()
	if err != nil {
		return err
	}
	return shutdownBooted(ctx, d, name, r, prep)
}

// watchDeclared applies host.toml at SIGHUP and, with watchConfig, when
// the file changes (the directory's inotify watch), until sctx ends.
func watchDeclared(sctx, vctx context.Context, e *env, cfg *hostconfig.Config, dm *supervisor.Daemon, hup <-chan os.Signal, log *slog.Logger) {
	go func() {
		for {
			select {
			case <-sctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: applying host config", "config", e.hostConfigPath())
				dm.Reapply()
			}
		}
	}()
	if !cfg.WatchConfig {
		return
	}
	err := supervisor.WatchFile(vctx, e.hostConfigPath(), supervisor.ConfigSettle, func() {
		log.Info("host config changed: applying it", "config", e.hostConfigPath())
		dm.Reapply()
	})
	if err != nil {
		log.Warn("watchConfig: changes are applied at SIGHUP only", "err", err)
	}
}
