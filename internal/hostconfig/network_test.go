package hostconfig

import (
	"strings"
	"testing"
)

// TestNetworkDefaults: [network.default] alone is a complete network, on
// with NAT and DHCP; a host.toml without [network.*] has none.
func TestNetworkDefaults(t *testing.T) {
	c := writeConfig(t, "[network.default]\n")
	n, ok := c.Network[DefaultNetwork]
	if !ok {
		t.Fatal("no default network")
	}
	if n.Bridge != "microvm0" || n.Address != "10.77.0.1/24" || !n.NATEnabled() || !n.DHCPEnabled() || n.DNS != nil {
		t.Errorf("default network = %+v; want microvm0 10.77.0.1/24 with NAT, DHCP and the host's DNS", n)
	}
	if got := n.Prefix().String(); got != "10.77.0.1/24" {
		t.Errorf("Prefix = %s", got)
	}
	if c := writeConfig(t, "bridge = \"br0\"\n"); len(c.Network) != 0 {
		t.Errorf("networks without [network.*]: %v", c.Network)
	}
}

// TestTapBridge: [vm.NAME] bridge wins over the tap's network, which wins
// over the host's bridge; an unconfigured network is an error saying
// how to configure it.
func TestTapBridge(t *testing.T) {
	c := writeConfig(t, `bridge = "br0"
[vm.own]
bridge = "br-own"
[vm.none]
bridge = ""
[network.default]
`)
	for _, tt := range []struct{ vm, network, want string }{
		{"web", "", "br0"},
		{"web", "default", "microvm0"},
		{"own", "default", "br-own"},
		{"own", "", "br-own"},
		{"none", "default", ""},
	} {
		got, err := c.TapBridge(tt.vm, tt.network)
		if err != nil || got != tt.want {
			t.Errorf("TapBridge(%q, %q) = %q, %v; want %q", tt.vm, tt.network, got, err, tt.want)
		}
	}
	_, err := c.TapBridge("web", "lab")
	if err == nil || !strings.Contains(err.Error(), `network "lab" is not configured on this host; add [network.lab] to `+c.file) {
		t.Errorf("unconfigured network: %v", err)
	}
}
