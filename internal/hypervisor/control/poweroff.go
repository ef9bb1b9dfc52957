package control

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PowerOff is the graceful part of a stop for one hypervisor: it asks the
// guest to power off (RequestShutdown), waits with wait until the
// hypervisor is gone, and asks again every resend (RepeatShutdown) until
// timeout has passed since the first request. It is what generated
// runners' bin/microvm-shutdown runs, so the re-sending works wherever the
// script runs (the supervisor, systemd's ExecStop, by hand).
//
// wait must return nil once the hypervisor is gone and the ctx's error
// when it ends first; it is cut at each re-send, which for
// WaitSocketClosed also frees qemu's QMP socket for the next request. A
// request that fails is passed to warn and made again at the next
// re-send: the control socket may not be up yet right after a start.
func PowerOff(ctx context.Context, method, socket, binary string, wait func(context.Context) error, resend, timeout time.Duration, warn func(error)) error {
	send := func(ctx context.Context, again bool) error {
		if again {
			return RepeatShutdown(ctx, method, socket, binary)
		}
		return RequestShutdown(ctx, method, socket, binary)
	}
	return powerOff(ctx, send, wait, resend, timeout, warn)
}

func powerOff(ctx context.Context, send func(ctx context.Context, again bool) error, wait func(context.Context) error, resend, timeout time.Duration, warn func(error)) error {
	if resend <= 0 || timeout <= 0 {
		return fmt.Errorf("powering off: re-send interval %v and timeout %v must be positive", resend, timeout)
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for again := false; ; again = true {
		// Each round, the request and the wait, is bounded: a request
		// can hang too (qemu greets a QMP client only when the one
		// before it left).
		step, cancel := context.WithTimeout(ctx, min(resend, time.Until(deadline)))
		if err := send(step, again); err != nil && ctx.Err() == nil {
			lastErr = err
			warn(err)
		}
		err := wait(step)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case !errors.Is(err, context.DeadlineExceeded):
			return err
		case !time.Now().Before(deadline):
			if lastErr != nil {
				return fmt.Errorf("the guest did not power off within %s (last request: %w)", timeout, lastErr)
			}
			return fmt.Errorf("the guest did not power off within %s", timeout)
		}
	}
}
