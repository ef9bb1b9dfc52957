package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/procfs"

	"github.com/microvm-host/microvm/internal/trust"
)

// apiSocketOf finds cloud-hypervisor's API socket in its command line
// (--api-socket PATH, path=PATH, or fd=N: none to dial), relative paths
// against vmDir, its working directory. The runner wrote the socket into
// the command line, not into anything the host reads; the process's own
// argv is the fact.
func apiSocketOf(argv []string, vmDir string) string {
	for i, a := range argv {
		v, ok := strings.CutPrefix(a, "--api-socket=")
		if !ok && a == "--api-socket" && i+1 < len(argv) {
			v, ok = argv[i+1], true
		}
		if !ok {
			continue
		}
		for _, opt := range strings.Split(v, ",") {
			if p, isPath := strings.CutPrefix(opt, "path="); isPath {
				v = p
			} else if strings.Contains(opt, "=") {
				v = "" // fd=N
			}
		}
		if v == "" {
			return ""
		}
		if !filepath.IsAbs(v) {
			v = filepath.Join(vmDir, v)
		}
		return v
	}
	return ""
}

// cloudHypervisorStatsOf fills the disks of a cloud-hypervisor VM from
// its vm.counters (docs/api.md): a JSON object of devices ("_disk0",
// "_net2") to counters, of which disks have read_bytes and friends.
func cloudHypervisorStatsOf(ctx context.Context, fs procfs.FS, pid, uid int, vmDir string, vs *VMSample) {
	p, err := fs.Proc(pid)
	if err != nil {
		return
	}
	argv, err := p.CmdLine()
	if err != nil {
		vs.problem("disks: %v", err)
		return
	}
	socket := apiSocketOf(argv, vmDir)
	if socket == "" {
		return // no API socket: it cannot say
	}
	counters, err := vmCounters(ctx, socket, uid)
	if err != nil {
		vs.problem("disks: %v", err)
		return
	}
	vs.Disks = []DiskSample{}
	for dev, c := range counters {
		if _, isDisk := c["read_bytes"]; !isDisk {
			continue
		}
		vs.Disks = append(vs.Disks, DiskSample{Device: dev, ReadBytes: c["read_bytes"], WriteBytes: c["write_bytes"], ReadOps: c["read_ops"], WriteOps: c["write_ops"]})
	}
	sort.Slice(vs.Disks, func(i, j int) bool { return vs.Disks[i].Device < vs.Disks[j].Device })
}

// vmCounters GETs /api/v1/vm.counters from the API socket, connecting as
// trust.DialSocket does: the socket is in the VM directory.
func vmCounters(ctx context.Context, socket string, uid int) (map[string]map[string]uint64, error) {
	tr := &http.Transport{
		DialContext:       func(context.Context, string, string) (net.Conn, error) { return trust.DialSocket(socket, uid) },
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://localhost/api/v1/vm.counters", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatsReply))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET vm.counters: %s: %.200s", resp.Status, strings.TrimSpace(string(body)))
	}
	var counters map[string]map[string]uint64
	if err := json.Unmarshal(body, &counters); err != nil {
		return nil, fmt.Errorf("GET vm.counters: %w", err)
	}
	return counters, nil
}
