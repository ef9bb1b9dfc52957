package hypervisor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/microvm-host/microvm/internal/spec"
)

// Check refuses every option of s that the hypervisor called name cannot
// provide according to c, where microvm.nix throws (or silently drops the
// option). Each problem is a *spec.Error naming the option path whose Err
// wraps ErrUnsupported; all are joined. s must have passed
// spec.Validate, so values are known to be well-formed.
func Check(s *spec.Spec, name string, c Caps) error {
	var errs []error
	refuse := func(path, format string, args ...any) {
		msg := name + " " + fmt.Sprintf(format, args...)
		errs = append(errs, &spec.Error{Path: path, Err: unsupported(msg)})
	}
	if c.SocketRequired && s.ControlSocket() == "" {
		refuse("socket", "needs a control socket; set socket to a path or leave it out")
	}
	for i, ifc := range s.Interfaces {
		if !slices.Contains(c.InterfaceTypes, ifc.Type) {
			refuse(fmt.Sprintf("interfaces[%d].type", i), "cannot use %q interfaces (supports: %s)", ifc.Type, list(c.InterfaceTypes))
		}
	}
	for i, sh := range s.Shares {
		path := fmt.Sprintf("shares[%d].proto", i)
		switch {
		case len(c.ShareProtos) == 0:
			refuse(path, "cannot share directories (supports: none)")
		case !slices.Contains(c.ShareProtos, sh.Proto):
			refuse(path, "cannot share directories over %q (supports: %s)", sh.Proto, list(c.ShareProtos))
		}
	}
	for i, d := range s.Devices {
		if d.Bus == "pci" && !c.PCI || d.Bus == "usb" && !c.USB {
			refuse(fmt.Sprintf("devices[%d].bus", i), "cannot pass through %s devices", d.Bus)
		}
	}
	if s.Vsock.CID != 0 && !c.Vsock {
		refuse("vsock.cid", "cannot give the guest a vsock device; leave vsock.cid out")
	}
	if s.Balloon && !c.Balloon {
		refuse("balloon", "has no memory balloon")
	}
	if s.HotplugMem > 0 && !c.HotplugMem {
		refuse("hotplugMem", "cannot hotplug memory")
	}
	if s.User != "" && !c.User {
		refuse("user", "cannot switch to another user itself; run the VM as that user instead")
	}
	if len(s.ForwardPorts) > 0 && !c.ForwardPorts {
		refuse("forwardPorts", "cannot forward ports")
	}
	if s.CloudInit != nil && !c.CloudInit {
		refuse("cloudInit", "cannot attach a read-only disk image for the cloud-init seed")
	}
	// An image VM needs what a cloud-init seed needs: a read-only raw
	// disk in the VM directory (its root disk), besides an initrd.
	if s.Image != "" && !c.CloudInit {
		refuse("image", "cannot attach a read-only disk image for the image's root file system")
	}
	if s.HostModules && !c.CloudInit {
		refuse("hostModules", "cannot attach a read-only disk image for the host's modules")
	}
	for i, v := range s.Volumes {
		p := fmt.Sprintf("volumes[%d]", i)
		switch {
		case v.Format == spec.FormatQcow2 && v.Base != "" && !c.Qcow2:
			refuse(p+".base", "reads raw images only, so the image cannot be a qcow2 overlay of the base; set convert = true for a raw copy of the base per VM")
		case v.Format == spec.FormatQcow2 && !c.Qcow2:
			refuse(p+".format", "reads raw images only; convert the image once (qemu-img convert -O raw IMAGE IMAGE.raw) and attach the copy")
		case v.Format == spec.FormatQcow2 && v.Base != "" && !c.BackingFiles:
			refuse(p+".base", "cannot open qcow2 backing files, so the image cannot be an overlay of the base; set convert = true for a raw copy of the base per VM")
		}
	}
	return errors.Join(errs...)
}

// unsupported reads as its message alone and matches ErrUnsupported, so
// the text need not end in ": not supported".
type unsupported string

func (u unsupported) Error() string { return string(u) }
func (u unsupported) Unwrap() error { return ErrUnsupported }

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
