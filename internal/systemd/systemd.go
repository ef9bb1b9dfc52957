// Package systemd renders microvm.nix's systemd units for this host: one
// template per unit, embedded, filled in by a pure function and written by
// Install. The units call `microvm host …` verbs for the root-side steps and
// the runner's own bin/microvm-run and bin/microvm-shutdown for the VM
// (reference §2.3, with the upstream fixes of §8).
package systemd

import (
	"bytes"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/microvm-host/microvm/internal/hostconfig"
	"github.com/microvm-host/microvm/internal/state"
)

// DefaultTimeout is microvm.nix's TimeoutSec for microvm@ (#231:
// 90 s restarted VMs mid-boot on slow hosts).
const DefaultTimeout = 150 * time.Second

// The restart policy of microvm@ when Options leave it out: microvm.nix's
// Restart=always, RestartSec=5s, and the daemon's crash-loop cap
// (supervisor.DefaultPolicy: 5 in 10 minutes; microvm.nix kept systemd's
// 5 in 10 s, which a 5 s delay never reaches, so it looped forever).
const (
	DefaultRestart            = "always"
	DefaultRestartDelay       = 5 * time.Second
	DefaultStartLimitBurst    = 5
	DefaultStartLimitInterval = 10 * time.Minute
)

// Names are the units Render returns, in this order.
var Names = []string{
	"microvm@.service",
	"microvm-set-booted@.service",
	"microvm-cloud-init@.service",
	"microvm-image@.service",
	"microvm-tap-interfaces@.service",
	"microvm-macvtap-interfaces@.service",
	"microvm-pci-devices@.service",
	"microvm-virtiofsd@.service",
	"microvms.target",
}

//go:embed units/*.tmpl
var unitFS embed.FS

// Options configure the units. The zero value of every field but Microvm
// means microvm.nix's default.
type Options struct {
	// Microvm is the absolute path of the microvm binary the units call.
	Microvm string
	// StateDir is the state directory (default state.DefaultRoot).
	StateDir string
	// User and Group run the hypervisor (default microvm:kvm).
	User, Group string
	// Autostart names the VMs microvms.target wants, in this order.
	Autostart []string
	// StartTimeout and StopTimeout bound microvm@ (default DefaultTimeout).
	StartTimeout, StopTimeout time.Duration
	// Restart is microvm@'s Restart=: always, on-failure or no, as the
	// host configuration's restart (default DefaultRestart).
	Restart string
	// RestartDelay is RestartSec= (default DefaultRestartDelay).
	RestartDelay time.Duration
	// StartLimitBurst starts within StartLimitInterval fail microvm@
	// instead of restarting it (defaults DefaultStartLimitBurst and
	// DefaultStartLimitInterval).
	StartLimitBurst    int
	StartLimitInterval time.Duration
}

// Unit is one rendered unit file.
type Unit struct {
	Name    string
	Content []byte
}

// data is what the templates see; every field is already escaped.
type data struct {
	User, Group               string
	StartTimeout, StopTimeout string
	Restart, RestartDelay     string
	StartLimitBurst           int
	StartLimitInterval        string
	Autostart                 []string
}

// Render returns the unit files for o, in the order of Names. It is pure:
// it neither reads nor writes the host.
func Render(o Options) ([]Unit, error) {
	if err := fill(&o); err != nil {
		return nil, err
	}
	d := data{
		User:         escapeSpecifiers(o.User),
		Group:        escapeSpecifiers(o.Group),
		StartTimeout: seconds(o.StartTimeout),
		StopTimeout:  seconds(o.StopTimeout),
		Restart:      o.Restart,
		RestartDelay: seconds(o.RestartDelay),
		// StartLimitBurst is an integer, StartLimitInterval a span.
		StartLimitBurst:    o.StartLimitBurst,
		StartLimitInterval: seconds(o.StartLimitInterval),
		Autostart:          o.Autostart,
	}
	vmDir := escapeSpecifiers(o.StateDir) + "/%i"
	funcs := template.FuncMap{
		// path is a path setting (WorkingDirectory=, ConditionPathExists=):
		// only specifiers are expanded there, no quotes, no variables.
		"path": func(rel string) string { return strings.TrimSuffix(vmDir+"/"+rel, "/") },
		// exec is a runner script as a whole command line.
		"exec": func(rel string) string {
			return quoteExecWord(escapeSpecifiers(o.StateDir) + "/%i/" + rel)
		},
		// host is `microvm host VERB NAME` with this state directory.
		"host": func(verb string) string {
			return escapeExecPath(o.Microvm) + " --state-dir " + escapeExecArg(o.StateDir) + " host " + verb + " %i"
		},
	}
	units := make([]Unit, 0, len(Names))
	for _, name := range Names {
		t, err := template.New(name+".tmpl").Funcs(funcs).Option("missingkey=error").ParseFS(unitFS, "units/"+name+".tmpl")
		if err != nil {
			return nil, fmt.Errorf("parsing template for %q: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return nil, fmt.Errorf("rendering %q: %w", name, err)
		}
		units = append(units, Unit{Name: name, Content: b.Bytes()})
	}
	return units, nil
}

// fill applies defaults and rejects what cannot be written into a unit.
func fill(o *Options) error {
	if o.StateDir == "" {
		o.StateDir = state.DefaultRoot
	}
	if o.User == "" {
		o.User = hostconfig.DefaultUser
	}
	if o.Group == "" {
		o.Group = hostconfig.DefaultGroup
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultTimeout
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = DefaultTimeout
	}
	if o.Restart == "" {
		o.Restart = DefaultRestart
	}
	if o.RestartDelay == 0 {
		o.RestartDelay = DefaultRestartDelay
	}
	if o.StartLimitBurst == 0 {
		o.StartLimitBurst = DefaultStartLimitBurst
	}
	if o.StartLimitInterval == 0 {
		o.StartLimitInterval = DefaultStartLimitInterval
	}
	for _, p := range []struct{ what, val string }{{"microvm binary", o.Microvm}, {"state directory", o.StateDir}} {
		if !path.IsAbs(p.val) {
			return fmt.Errorf("%s %q: not an absolute path", p.what, p.val)
		}
		if strings.ContainsAny(p.val, "\n\r\x00") {
			return fmt.Errorf("%s %q: contains a newline or NUL", p.what, p.val)
		}
		if strings.TrimSpace(p.val) != p.val || strings.HasSuffix(p.val, "/") && p.val != "/" {
			return fmt.Errorf("%s %q: trailing space or slash", p.what, p.val)
		}
	}
	for _, id := range []struct{ what, val string }{{"user", o.User}, {"group", o.Group}} {
		if strings.ContainsAny(id.val, " \t\n\r\x00\"'\\") {
			return fmt.Errorf("%s %q: not a valid user or group name", id.what, id.val)
		}
	}
	if o.StartTimeout < 0 || o.StopTimeout < 0 || o.RestartDelay < 0 || o.StartLimitInterval < 0 {
		return fmt.Errorf("negative duration (start timeout %v, stop timeout %v, restart delay %v, start limit interval %v)",
			o.StartTimeout, o.StopTimeout, o.RestartDelay, o.StartLimitInterval)
	}
	if o.StartLimitBurst < 0 {
		return fmt.Errorf("start limit burst %d: expected 1 or more", o.StartLimitBurst)
	}
	switch o.Restart {
	case "always", "on-failure", "no":
	default:
		return fmt.Errorf("restart %q: expected always, on-failure or no", o.Restart)
	}
	for _, name := range o.Autostart {
		// CheckName admits only what needs no unit-name escaping.
		if err := state.CheckName(name); err != nil {
			return fmt.Errorf("autostart: %w", err)
		}
	}
	return nil
}

// seconds formats d as a systemd time span, exact to the millisecond.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}
