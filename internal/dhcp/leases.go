// Package dhcp is the DHCPv4 server of a managed network: it hands each
// guest MAC the same address every time, from a lease file that outlives
// the server, so that whoever serves the network next (the daemon,
// `microvm host network serve`, a foreground `microvm run`) answers alike.
// The protocol is github.com/insomniacslk/dhcp's; the policy is here.
package dhcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/google/renameio/v2"
)

// Lease is one guest's address. Leases are never forgotten on their own:
// an expired one still reserves its address for its MAC, and is only
// reclaimed for another MAC when the pool has nothing else left.
type Lease struct {
	MAC      string     `json:"mac"` // lowercase, colon-separated
	Addr     netip.Addr `json:"addr"`
	Expires  time.Time  `json:"expires"`
	Hostname string     `json:"hostname,omitempty"` // as the guest said
}

// leaseFile is the file's content; Version lets a later format refuse
// to misread this one.
type leaseFile struct {
	Version int     `json:"version"`
	Leases  []Lease `json:"leases"`
}

const leaseVersion = 1

// maxLeaseFile bounds what ReadLeases reads: a /16 full of leases is
// about 7 MiB.
const maxLeaseFile = 16 << 20

// ReadLeases reads the lease file at path; a missing file has no leases.
func ReadLeases(path string) ([]Lease, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading leases: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading leases: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxLeaseFile {
		return nil, fmt.Errorf("reading leases: %s: expected a regular file of at most %d bytes", path, maxLeaseFile)
	}
	var lf leaseFile
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&lf); err != nil {
		return nil, fmt.Errorf("reading leases: %s: %w; move it away to start with no leases", path, err)
	}
	if lf.Version != leaseVersion {
		return nil, fmt.Errorf("reading leases: %s: version %d; expected %d", path, lf.Version, leaseVersion)
	}
	return lf.Leases, nil
}

// writeLeases replaces the lease file atomically, sorted by address so
// that it reads well and diffs small.
func writeLeases(path string, leases []Lease) error {
	ls := slices.Clone(leases)
	slices.SortFunc(ls, func(a, b Lease) int { return a.Addr.Compare(b.Addr) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(leaseFile{Version: leaseVersion, Leases: ls}); err != nil {
		return err
	}
	if err := renameio.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing leases: %w", err)
	}
	return nil
}

// Lookup returns the address of mac in the lease file at path.
func Lookup(path, mac string) (netip.Addr, bool, error) {
	leases, err := ReadLeases(path)
	if err != nil {
		return netip.Addr{}, false, err
	}
	for _, l := range leases {
		if l.MAC == mac {
			return l.Addr, true, nil
		}
	}
	return netip.Addr{}, false, nil
}
