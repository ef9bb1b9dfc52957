package hostconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/state"
	"github.com/microvm-host/microvm/internal/tomlfile"
)

// MaxSize bounds the file: a host configuration is a few hundred bytes,
// and Load must not read whatever a path points at.
const MaxSize = 1 << 20

// Load reads the configuration at path; a missing file gives the defaults.
// Every problem in the file is reported, joined, each as
// "FILE:LINE:COL: KEY: problem". It does not check that the user, groups
// and binaries it names exist: `microvm host init` creates them from this
// very file. Check does.
func Load(path string) (*Config, error) {
	c := &Config{file: path}
	data, err := tomlfile.ReadFile(path, MaxSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("host config: %w", err)
	default:
		c.keys, err = tomlfile.Decode(path, data, c)
		if err != nil && !errors.Is(err, tomlfile.ErrUnknownKeys) {
			return nil, err
		}
		// Unknown keys: the rest is decoded, so report its problems too.
		if err := c.validate(err); err != nil {
			return nil, err
		}
	}
	c.applyDefaults(path)
	return c, nil
}

// validate reports the values the file writes that cannot work, with the
// unknown keys decoding found, in the order of the file's lines. A key
// written with a zero value is refused where zero is not a setting of
// its own, so that only leaving a key out means its default.
func (c *Config) validate(unknown error) error {
	p := problems{cfg: c}
	if u, ok := unknown.(interface{ Unwrap() []error }); ok {
		p.errs = append(p.errs, u.Unwrap()...)
	}
	if c.written("user") && c.User == "" {
		p.add("user", `"" is not allowed; expected a user name, or leave the key out for the default (%q)`, DefaultUser)
	}
	if c.written("group") && c.Group == "" {
		p.add("group", `"" is not allowed; expected a group name, or leave the key out for the default (%q)`, DefaultGroup)
	}
	for i, g := range c.SupplementaryGroups {
		if g == "" {
			p.add(fmt.Sprintf("supplementaryGroups[%d]", i), `"" is not allowed; expected a group name`)
		}
	}
	if c.Bridge != "" {
		p.check("bridge", runner.CheckInterfaceName(c.Bridge))
	}
	for i, name := range c.Autostart {
		p.check(fmt.Sprintf("autostart[%d]", i), state.CheckName(name))
	}
	p.count("autostartParallel", c.AutostartParallel, DefaultAutostartParallel)
	if d := c.AutostartDelay; c.written("autostartDelay") && (d.err != nil || d.Duration < 0) {
		p.add("autostartDelay", `%q: expected a duration of zero or more like "2s"`, d.text)
	}
	if c.written("metricsListen") {
		p.check("metricsListen", CheckMetricsListen(c.MetricsListen))
	}
	p.duration("restartDelay", c.RestartDelay, "5s")
	p.count("restartBurst", c.RestartBurst, 5)
	p.duration("restartWindow", c.RestartWindow, "10m")
	p.duration("stopTimeout", c.StopTimeout, "150s")
	p.duration("stopResend", c.StopResend, "15s")
	p.duration("stopKillAfter", c.StopKillAfter, "10s")
	names := make([]string, 0, len(c.VM))
	for name := range c.VM {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		vm, key := c.VM[name], "vm."+name
		if err := state.CheckName(name); err != nil {
			// The name is the problem: the error names it quoted, not
			// as part of a key path it would garble.
			p.addAt("vm", key, "%w", err)
			continue
		}
		if vm.Bridge != nil && *vm.Bridge != "" {
			p.check(key+".bridge", runner.CheckInterfaceName(*vm.Bridge))
		}
		if c.written(key+".source") && vm.Source == "" {
			p.add(key+".source", `"" is not allowed; expected a runner directory, a spec file or a flake reference, or leave the key out for a VM made by hand`)
		}
		if vm.Source == "" && c.written(key+".restartIfChanged") {
			p.add(key+".restartIfChanged", "only applies to a VM microvm apply manages; set [vm.%s] source too, or remove the key", name)
		}
		if c.written(key+".autostart") && !vm.Autostart && slices.Contains(c.Autostart, name) {
			p.add(key+".autostart", "false, but the host's autostart list names %q; remove it from one of them", name)
		}
		p.duration(key+".stopTimeout", vm.StopTimeout, "150s")
		p.duration(key+".stopResend", vm.StopResend, "15s")
		p.duration(key+".stopKillAfter", vm.StopKillAfter, "10s")
	}
	c.validateNetworks(&p)
	return p.join()
}

// written reports whether the file writes the key at path.
func (c *Config) written(path string) bool {
	if c.keys == nil {
		return false
	}
	_, ok := c.keys.At(path)
	return ok
}

// problems collects located errors about one Config.
type problems struct {
	cfg  *Config
	errs []error
}

func (p *problems) add(path, format string, args ...any) {
	p.addAt(path, path, format, args...)
}

// addAt records a problem named path, located where the file writes at.
func (p *problems) addAt(path, at, format string, args ...any) {
	e := &tomlfile.Error{File: p.cfg.file, Path: path, Err: fmt.Errorf(format, args...)}
	if p.cfg.keys != nil {
		if l, ok := p.cfg.keys.Locate(at); ok {
			e.Line, e.Col = l.Line, l.Col
		}
	}
	p.errs = append(p.errs, e)
}

func (p *problems) check(path string, err error) {
	if err != nil {
		p.add(path, "%w", err)
	}
}

// count refuses a count the file writes that is not positive.
func (p *problems) count(path string, n, example int) {
	if p.cfg.written(path) && n <= 0 {
		p.add(path, "%d: expected a positive integer like %d", n, example)
	}
}

// duration refuses a duration the file writes that does not parse or is
// not positive.
func (p *problems) duration(path string, d Duration, example string) {
	if p.cfg.written(path) && (d.err != nil || d.Duration <= 0) {
		p.add(path, "%q: expected a positive duration like %q", d.text, example)
	}
}

// join returns the problems in the order of the file's lines.
func (p *problems) join() error {
	pos := func(err error) [2]int {
		var e *tomlfile.Error
		if errors.As(err, &e) {
			return [2]int{e.Line, e.Col}
		}
		return [2]int{}
	}
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := pos(p.errs[i]), pos(p.errs[j])
		return a[0] < b[0] || a[0] == b[0] && a[1] < b[1]
	})
	return errors.Join(p.errs...)
}
