package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/microvm-host/microvm/internal/hypervisor"
)

// TestPowerOff plays guests against the re-sending loop of generated
// runners' bin/microvm-shutdown, in fake time.
func TestPowerOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		// goneAt is when the hypervisor exits, given the times of the
		// requests so far; 0: not (yet).
		goneAt   func(requests []time.Duration) time.Duration
		fail     int // the first fail requests fail
		sends    string
		err      string
		warnings int
	}{{
		name:   "first request works",
		goneAt: func(r []time.Duration) time.Duration { return r[0] + 3*time.Second },
		sends:  "request@0s",
	}, {
		// Lost while booting: the repeat (with the power button) works.
		name: "first request lost",
		goneAt: func(r []time.Duration) time.Duration {
			if len(r) < 2 {
				return 0
			}
			return r[1] + 2*time.Second
		},
		sends: "request@0s,repeat@15s",
	}, {
		name:   "never",
		goneAt: func([]time.Duration) time.Duration { return 0 },
		sends:  "request@0s,repeat@15s,repeat@30s",
		err:    "the guest did not power off within 40s",
	}, {
		// The control socket is not up yet at first.
		name:     "socket late",
		fail:     1,
		goneAt:   func(r []time.Duration) time.Duration { return r[len(r)-1] + time.Second },
		sends:    "request@0s,repeat@15s",
		warnings: 1,
	}, {
		name:     "always failing",
		fail:     99,
		goneAt:   func([]time.Duration) time.Duration { return 0 },
		sends:    "request@0s,repeat@15s,repeat@30s",
		err:      "the guest did not power off within 40s (last request: connect: no such file or directory)",
		warnings: 3,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var sends []string
				var ok []time.Duration
				send := func(ctx context.Context, again bool) error {
					what := "request"
					if again {
						what = "repeat"
					}
					sends = append(sends, fmt.Sprintf("%s@%s", what, time.Since(start)))
					if len(sends) <= tc.fail {
						return errors.New("connect: no such file or directory")
					}
					ok = append(ok, time.Since(start))
					return nil
				}
				wait := func(ctx context.Context) error {
					for {
						if len(ok) > 0 {
							if at := tc.goneAt(ok); at > 0 && time.Since(start) >= at {
								return nil
							}
						}
						select {
						case <-ctx.Done():
							return ctx.Err()
						case <-time.After(100 * time.Millisecond):
						}
					}
				}
				warnings := 0
				err := powerOff(t.Context(), send, wait, 15*time.Second, 40*time.Second, func(error) { warnings++ })
				if got := strings.Join(sends, ","); got != tc.sends {
					t.Errorf("sent %s; want %s", got, tc.sends)
				}
				if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
					t.Errorf("err %v; want %q", err, tc.err)
				}
				if warnings != tc.warnings {
					t.Errorf("%d warnings; want %d", warnings, tc.warnings)
				}
			})
		})
	}
}

// TestRepeatShutdownFake: the repeat presses the keys and the power
// button; a machine without a keyboard still gets the button.
func TestRepeatShutdownFake(t *testing.T) {
	socket := fakeQMP(t, []qmpStep{
		{capabilities, []string{qmpOK}},
		{ctrlAltDelJSON, []string{`{"error": {"class": "GenericError", "desc": "Input handler not found for event type key"}}`}},
		{`{"execute":"system_powerdown"}`, []string{qmpOK}},
	})
	if err := RepeatShutdown(testContext(t), hypervisor.ShutdownQMP, socket, ""); err != nil {
		t.Errorf("RepeatShutdown: %v", err)
	}
	socket = fakeQMP(t, []qmpStep{
		{capabilities, []string{qmpOK}},
		{ctrlAltDelJSON, []string{qmpOK}},
		{`{"execute":"system_powerdown"}`, []string{`{"error": {"class": "CommandNotFound", "desc": "no button"}}`}},
	})
	err := RepeatShutdown(testContext(t), hypervisor.ShutdownQMP, socket, "")
	if err == nil || !strings.Contains(err.Error(), "requesting shutdown again (qmp)") || !strings.Contains(err.Error(), "no button") {
		t.Errorf("RepeatShutdown without a button = %v", err)
	}
}

func TestRepeatShutdownRealQemu(t *testing.T) {
	socket, cmd := startQemu(t, "-machine", "microvm,accel=tcg,acpi=on", "-device", "i8042")
	ctx := testContext(t)
	if err := RepeatShutdown(ctx, hypervisor.ShutdownQMP, socket, ""); err != nil {
		t.Errorf("RepeatShutdown: %v", err)
	}
	quit(t, ctx, socket, cmd)
}
