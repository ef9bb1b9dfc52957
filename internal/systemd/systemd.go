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

// Names are the units Render returns, in this order.
var Names = []string{
	"microvm@.service",
	"microvm-set-booted@.service",
	"microvm-cloud-init@.service",
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
		Autostart:    o.Autostart,
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
	if o.StartTimeout < 0 || o.StopTimeout < 0 {
		return fmt.Errorf("negative timeout (start %v, stop %v)", o.StartTimeout, o.StopTimeout)
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
