package ociinit

import (
	"encoding/binary"
	"os"
	"os/signal"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stopRequest is what the init's main loop acts on: a child to reap, a
// signal to forward to the process as it is, or a request to power off
// (why says which), forwarded as the process's stop signal.
type stopRequest struct {
	reap    bool
	forward unix.Signal
	why     string
}

// forwarded are the signals passed on to the process unchanged, as tini
// does; SIGINT and SIGTERM ask for the power-off instead.
var forwarded = []os.Signal{unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH}

// watchStop turns signals to PID 1 into requests. Every signal is caught:
// Go's default for most is to exit, and PID 1 exiting panics the kernel.
func watchStop() chan stopRequest {
	ch := make(chan os.Signal, 64)
	signal.Notify(ch)
	out := make(chan stopRequest, 64)
	go func() {
		for s := range ch {
			sig, _ := s.(unix.Signal)
			switch {
			case sig == unix.SIGCHLD:
				out <- stopRequest{reap: true}
			// The kernel sends SIGINT for Ctrl+Alt+Del (microvm's
			// graceful stop on qemu and firecracker) once CAD is off.
			case sig == unix.SIGINT:
				out <- stopRequest{why: "Ctrl+Alt+Del"}
			case sig == unix.SIGTERM, sig == unix.SIGPWR:
				out <- stopRequest{why: unix.SignalName(sig) + " to init"}
			default:
				for _, f := range forwarded {
					if f == s {
						out <- stopRequest{forward: sig}
					}
				}
			}
		}
	}()
	return out
}

// Input event constants (linux/input-event-codes.h).
const (
	evKey    = 1
	keyPower = 116
	// eventSize is struct input_event on 64-bit: a timeval and three
	// fields.
	eventSize = 24
)

// watchPowerButton reads the input devices for the ACPI power button
// (cloud-hypervisor's and crosvm's graceful stop) and turns a press into
// a power-off request.
func watchPowerButton(out chan<- stopRequest) {
	devs, _ := filepath.Glob("/dev/input/event*")
	for _, d := range devs {
		f, err := os.Open(d)
		if err != nil {
			continue
		}
		go func() {
			defer f.Close()
			buf := make([]byte, eventSize)
			for {
				if _, err := f.Read(buf); err != nil {
					return
				}
				typ := binary.NativeEndian.Uint16(buf[16:])
				code := binary.NativeEndian.Uint16(buf[18:])
				value := int32(binary.NativeEndian.Uint32(buf[20:]))
				if typ == evKey && code == keyPower && value == 1 {
					out <- stopRequest{why: "the power button"}
				}
			}
		}()
	}
}
