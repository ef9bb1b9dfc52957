package hostconfig

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// CheckMetricsListen refuses a metricsListen that is not IP:PORT with an
// explicit IP: ":9848" or a host name would leave it to the resolver or
// to Go which interfaces an unauthenticated endpoint listens on.
func CheckMetricsListen(addr string) error {
	const like = `expected IP:PORT, like "127.0.0.1:9848" (this host only) or "0.0.0.0:9848" (every interface)`
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %s", addr, like)
	}
	switch n, perr := strconv.Atoi(port); {
	case host == "":
		return fmt.Errorf("%q: no IP; %s", addr, like)
	case perr != nil || n < 1 || n > 65535:
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535; %s", addr, port, like)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("%q: %q is not an IP address; %s", addr, host, like)
	}
	return nil
}
