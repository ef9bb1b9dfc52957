package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/microvm-host/microvm/internal/manager"
	"github.com/microvm-host/microvm/internal/metrics"
)

// topRow is one VM as top shows it. Rates are over the time between two
// samples of the same run; a negative number is unknown (the first
// sample, a restart in between, a VM that is not running, a counter the
// host cannot read), shown as "-".
type topRow struct {
	Name, State  string
	CPU          float64 // percent of one CPU
	Mem          int64   // bytes resident
	Rx, Tx, Disk float64 // bytes a second; Rx is what the guest received
	Uptime       time.Duration
	Restarts     int
}

// topRows joins what the VMs' supervisors say (sts) with what they use
// now (cur) and at the previous sample (prev, by name).
func topRows(sts []manager.Status, cur []metrics.VMSample, prev map[string]metrics.VMSample) []topRow {
	byName := map[string]*topRow{}
	var rows []*topRow
	row := func(name string) *topRow {
		r := byName[name]
		if r == nil {
			r = &topRow{Name: name, CPU: -1, Mem: -1, Rx: -1, Tx: -1, Disk: -1}
			byName[name] = r
			rows = append(rows, r)
		}
		return r
	}
	for _, s := range sts {
		r := row(s.Name)
		r.State, r.Restarts = s.State, s.Restarts
	}
	for _, c := range cur {
		r := row(c.Name)
		if r.State == "" {
			r.State = "stopped"
			if c.Running {
				r.State = "running"
			}
		}
		if !c.Running {
			continue
		}
		if !c.Started.IsZero() {
			r.Uptime = c.Time.Sub(c.Started)
		}
		switch {
		case c.RSSBytes > 0:
			r.Mem = int64(c.RSSBytes)
		case c.CgroupMemoryBytes > 0:
			r.Mem = int64(c.CgroupMemoryBytes)
		}
		p, ok := prev[c.Name]
		if !ok {
			continue
		}
		r.CPU = rate(p, c, func(s metrics.VMSample) (float64, bool) { return s.CPUSeconds * 100, true })
		r.Rx = rate(p, c, func(s metrics.VMSample) (float64, bool) { return netBytes(s, true) })
		r.Tx = rate(p, c, func(s metrics.VMSample) (float64, bool) { return netBytes(s, false) })
		r.Disk = rate(p, c, diskBytes)
	}
	out := make([]topRow, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out
}

// rate is the change of a counter from p to c a second, when both are of
// the same run and the counter is known in both; else -1.
func rate(p, c metrics.VMSample, counter func(metrics.VMSample) (float64, bool)) float64 {
	dt := c.Time.Sub(p.Time).Seconds()
	if !p.Running || p.PID != c.PID || !p.Started.Equal(c.Started) || dt <= 0 {
		return -1
	}
	a, okA := counter(p)
	b, okB := counter(c)
	if !okA || !okB || b < a { // b < a: the device was recreated
		return -1
	}
	return (b - a) / dt
}

// netBytes is what the guest received (rx) or sent over all its taps
// and macvtaps; unknown without any.
func netBytes(s metrics.VMSample, rx bool) (float64, bool) {
	var n uint64
	known := false
	for _, i := range s.Net {
		if i.Missing {
			continue
		}
		known = true
		if rx {
			n += i.RxBytes
		} else {
			n += i.TxBytes
		}
	}
	return float64(n), known
}

// diskBytes is what the VM read and wrote: the hypervisor's own disk
// counters where it has them, else the block I/O of its process (or
// unit), which misses what the page cache served.
func diskBytes(s metrics.VMSample) (float64, bool) {
	if s.Disks != nil {
		var n uint64
		for _, d := range s.Disks {
			n += d.ReadBytes + d.WriteBytes
		}
		return float64(n), true
	}
	return float64(s.IOReadBytes + s.IOWriteBytes), true
}

// topSort is a column top sorts by.
type topSort struct {
	Name  string // for --sort
	Key   string // the key that picks it in the live view
	Title string // the column's title
	Desc  bool   // its first direction: the largest first for numbers
	less  func(a, b topRow) int
}

func cmpNum[T int | int64 | float64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// topColumns are top's columns, in order; each sorts.
var topColumns = []topSort{
	{"name", "n", "NAME", false, func(a, b topRow) int { return strings.Compare(a.Name, b.Name) }},
	{"state", "s", "STATE", false, func(a, b topRow) int { return strings.Compare(a.State, b.State) }},
	{"cpu", "c", "CPU%", true, func(a, b topRow) int { return cmpNum(a.CPU, b.CPU) }},
	{"mem", "m", "MEM", true, func(a, b topRow) int { return cmpNum(a.Mem, b.Mem) }},
	{"rx", "x", "NET-RX/s", true, func(a, b topRow) int { return cmpNum(a.Rx, b.Rx) }},
	{"tx", "t", "NET-TX/s", true, func(a, b topRow) int { return cmpNum(a.Tx, b.Tx) }},
	{"disk", "d", "DISK/s", true, func(a, b topRow) int { return cmpNum(a.Disk, b.Disk) }},
	{"uptime", "u", "UPTIME", true, func(a, b topRow) int { return cmpNum(a.Uptime, b.Uptime) }},
	{"restarts", "r", "RESTARTS", true, func(a, b topRow) int { return cmpNum(a.Restarts, b.Restarts) }},
}

// topSortNamed is the column of --sort NAME.
func topSortNamed(name string) (int, error) {
	var names []string
	for i, c := range topColumns {
		if c.Name == name {
			return i, nil
		}
		names = append(names, c.Name)
	}
	return 0, usageError("--sort %q: expected one of %s", name, strings.Join(names, ", "))
}

// sortTopRows sorts by column col, descending when desc; unknown values
// ("-") come last either way, and ties go by name.
func sortTopRows(rows []topRow, col int, desc bool) {
	c := topColumns[col]
	unknown := func(r topRow) bool {
		switch c.Name {
		case "cpu":
			return r.CPU < 0
		case "mem":
			return r.Mem < 0
		case "rx":
			return r.Rx < 0
		case "tx":
			return r.Tx < 0
		case "disk":
			return r.Disk < 0
		}
		return false
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if ua, ub := unknown(a), unknown(b); ua != ub {
			return ub
		}
		if d := c.less(a, b); d != 0 {
			return (d < 0) != desc
		}
		return a.Name < b.Name
	})
}

// cells are a row's columns in words.
func (r topRow) cells() []string {
	cpu := "-"
	if r.CPU >= 0 {
		cpu = fmt.Sprintf("%.1f", r.CPU)
	}
	mem := "-"
	if r.Mem >= 0 {
		mem = humanBytes(float64(r.Mem))
	}
	up := "-"
	if r.Uptime > 0 {
		up = humanDuration(r.Uptime)
	}
	return []string{r.Name, r.State, cpu, mem, humanRate(r.Rx), humanRate(r.Tx), humanRate(r.Disk), up, fmt.Sprint(r.Restarts)}
}

func humanRate(r float64) string {
	if r < 0 {
		return "-"
	}
	return humanBytes(r)
}

// humanBytes writes n in binary units as top(1) does: 512, 1.5K, 12M.
func humanBytes(n float64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%.0f", n)
	}
	u := -1
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if n < 10 {
		return fmt.Sprintf("%.1f%c", n, units[u])
	}
	return fmt.Sprintf("%.0f%c", n, units[u])
}

// humanDuration writes d in its two largest units: 3d04h, 2h05m, 5m12s,
// 42s.
func humanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	case s >= 3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}
