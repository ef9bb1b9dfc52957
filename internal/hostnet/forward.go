package hostnet

import (
	"fmt"
	"os"
	"strings"
)

// ipForward is IPv4 forwarding for every interface of a netns; /proc/sys/net
// shows the reading thread's netns, hence inNetNS.
const ipForward = "/proc/sys/net/ipv4/ip_forward"

// IPv4Forwarding reports whether the netns forwards IPv4.
func (h *Host) IPv4Forwarding() (bool, error) {
	var on bool
	err := h.inNetNS(func() error {
		b, err := os.ReadFile(ipForward)
		if err != nil {
			return err
		}
		on = strings.TrimSpace(string(b)) != "0"
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reading IPv4 forwarding: %w", err)
	}
	return on, nil
}

// SetIPv4Forwarding turns IPv4 forwarding on or off for the netns.
func (h *Host) SetIPv4Forwarding(on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	err := h.inNetNS(func() error { return os.WriteFile(ipForward, []byte(v), 0) })
	if err != nil {
		return fmt.Errorf("setting IPv4 forwarding to %s: %w", v, err)
	}
	h.log.Info("set IPv4 forwarding", "on", on)
	return nil
}
