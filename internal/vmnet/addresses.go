package vmnet

import (
	"github.com/microvm-host/microvm/internal/dhcp"
	"github.com/microvm-host/microvm/internal/runner"
)

// Addresses are the addresses the guest of runner r has on managed
// networks, from the lease files in dir: what `status` shows. A tap
// whose MAC has no lease (yet) contributes nothing; unreadable lease
// files are skipped, as status must not fail for them.
func Addresses(dir string, r *runner.Runner) []string {
	var out []string
	for _, n := range r.TapNetworks {
		if a, ok, err := dhcp.Lookup(LeaseFile(dir, n.Network), n.MAC); err == nil && ok {
			out = append(out, a.String())
		}
	}
	return out
}
