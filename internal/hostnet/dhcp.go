package hostnet

import (
	"fmt"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// ListenDHCP opens the DHCP server's socket: UDP port 67 bound to the
// bridge (SO_BINDTODEVICE), broadcast allowed, in h's netns (a socket
// belongs to the netns it was created in, whichever thread uses it).
func (h *Host) ListenDHCP(bridge string) (net.PacketConn, error) {
	if err := checkName(bridge); err != nil {
		return nil, err
	}
	var conn *net.UDPConn
	err := h.inNetNS(func() error {
		var err error
		conn, err = server4.NewIPv4UDPConn(bridge, &net.UDPAddr{Port: dhcpv4.ServerPort})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening for DHCP on %q: %w", bridge, err)
	}
	return conn, nil
}
