package api

import (
	"context"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Peer is who connected to the API socket, as the kernel recorded it at
// connect time (SO_PEERCRED): the effective uid and gid, and the pid.
// Nothing the peer sends can change it.
type Peer struct {
	UID, GID uint32
	PID      int32 // 0 when the peer is in a pid namespace we cannot see
}

// peerOf reads the credentials of the unix socket connection c.
func peerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("peer credentials: %T is not a unix socket connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("peer credentials: SO_PEERCRED: %w", credErr)
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}

type peerKey struct{}

// ConnContext is http.Server.ConnContext for connections of a Listener:
// it puts the peer into every request's context, for the handler to
// authorize by.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*PeerConn); ok {
		return withPeer(ctx, pc.Peer)
	}
	return ctx
}

func withPeer(ctx context.Context, p Peer) context.Context {
	return context.WithValue(ctx, peerKey{}, p)
}

// PeerFrom returns the peer of a request's context; false when the
// connection did not come through a Listener (then nothing is allowed
// that needs to know who asks).
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}
