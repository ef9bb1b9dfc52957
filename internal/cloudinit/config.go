package cloudinit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Config is what a seed is made from.
type Config struct {
	// VM is the VM's name: part of the instance-id.
	VM string
	// Hostname is the guest's local-hostname in meta-data.
	Hostname string
	// UserData is the user-data as given; nil when none was.
	UserData []byte
	// SSHAuthorizedKeys are merged into #cloud-config user-data (see
	// MergeKeys).
	SSHAuthorizedKeys []string
	// NetworkConfig is a network config version 2 document; nil for none.
	NetworkConfig []byte
}

// New composes the seed for c: meta-data with an instance-id and the
// hostname, the user-data with the keys merged in, and the network config
// as given. It refuses what the guest's cloud-init would reject or
// ignore, and content over MaxContent.
func New(c Config) (*Seed, error) {
	if err := CheckHostname(c.Hostname); err != nil {
		return nil, fmt.Errorf("hostname: %w", err)
	}
	for i, k := range c.SSHAuthorizedKeys {
		if err := CheckKey(k); err != nil {
			return nil, fmt.Errorf("sshAuthorizedKeys[%d]: %w", i, err)
		}
	}
	if c.NetworkConfig != nil {
		if err := CheckNetworkConfig(c.NetworkConfig); err != nil {
			return nil, fmt.Errorf("network-config: %w", err)
		}
	}
	ud, err := MergeKeys(c.UserData, c.SSHAuthorizedKeys)
	if err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	s := &Seed{UserData: ud, NetworkConfig: c.NetworkConfig}
	s.MetaData = metaData(c.VM, c.Hostname, s)
	if err := s.checkSize(); err != nil {
		return nil, err
	}
	return s, nil
}

// metaData is NoCloud's meta-data. The instance-id changes with the
// content, so a guest whose user-data, network config or hostname changed
// runs cloud-init's once-per-instance modules again (keys, hostname,
// runcmd) instead of treating the boot as a reboot of the same instance.
func metaData(vm, hostname string, s *Seed) []byte {
	h := sha256.New()
	io.WriteString(h, formatVersion+"\x00")
	for _, v := range []string{vm, hostname, string(s.UserData), string(s.NetworkConfig)} {
		writeField(h, v)
	}
	id := vm + "-" + hex.EncodeToString(h.Sum(nil))[:16]
	// Both values are checked to be plain YAML scalars: a VM name is
	// [A-Za-z0-9_.-] (state.CheckName), a hostname letters, digits, '-'
	// and '.'. Quoting keeps a name like "1e5" or "yes" a string.
	var b strings.Builder
	fmt.Fprintf(&b, "instance-id: %q\n", id)
	fmt.Fprintf(&b, "local-hostname: %q\n", hostname)
	return []byte(b.String())
}
