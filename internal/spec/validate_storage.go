package spec

import (
	"fmt"
	"path/filepath"

	"github.com/microvm-host/microvm/internal/runner"
	"github.com/microvm-host/microvm/internal/volume"
)

// MaxSerial is the longest volume serial in bytes: the virtio-blk device
// ID (VIRTIO_BLK_ID_BYTES).
const MaxSerial = 20

// labelMax is the longest label mkfs accepts per file system, in bytes.
// The keys are also the file systems autoCreate can make.
var labelMax = map[string]int{
	"ext2":  16,
	"ext3":  16,
	"ext4":  16,
	"xfs":   12,
	"btrfs": 255,
	"vfat":  11,
}

func (s *Spec) validateShares(errs *errorList) {
	tags := map[string]int{}
	// sockets maps each socket to its option; the control socket and
	// every virtiofsd need their own.
	sockets := map[string]string{}
	if c := s.ControlSocket(); c != "" {
		sockets[filepath.Clean(c)] = "socket"
	}
	for i, sh := range s.Shares {
		p := fmt.Sprintf("shares[%d]", i)
		errs.oneOf(p+".proto", sh.Proto, "virtiofs", "9p")
		if err := runner.CheckTag(sh.Tag); err != nil {
			errs.check(p+".tag", err)
		} else if j, dup := tags[sh.Tag]; dup {
			errs.add(p+".tag", "%q is also the tag of shares[%d]; expected unique tags", sh.Tag, j)
		} else {
			tags[sh.Tag] = i
		}
		if sh.Source == "" {
			errs.add(p+".source", "required; expected the host directory to share")
		}
		errs.noLineBreak(p+".source", sh.Source)
		if sh.Proto == "virtiofs" {
			sock := filepath.Clean(sh.Socket)
			if sh.Socket == "" {
				errs.add(p+".socket", `required with proto "virtiofs"; expected the path of virtiofsd's socket`)
			} else if other, dup := sockets[sock]; dup {
				errs.add(p+".socket", "%q is also used by %s; expected a socket of its own", sh.Socket, other)
			} else {
				sockets[sock] = p + ".socket"
			}
			errs.noLineBreak(p+".socket", sh.Socket)
			errs.socketLength(p+".socket", sh.Socket, s.Name)
		}
		if sh.SecurityModel != "" {
			errs.oneOf(p+".securityModel", sh.SecurityModel, "passthrough", "none", "mapped", "mapped-xattr", "mapped-file")
		}
	}
}

func (s *Spec) validateVolumes(errs *errorList) {
	if n := len(s.Volumes); n > MaxVolumes {
		errs.add("volumes", "%d volumes are too many; at most %d fit the drive ids vda to vdz", n, MaxVolumes)
	}
	images := map[string]int{}
	root := map[bool]int{}
	for i, v := range s.Volumes {
		p := fmt.Sprintf("volumes[%d]", i)
		img := filepath.Clean(v.Image)
		if v.Image == "" {
			errs.add(p+".image", "required; expected the path of the disk image")
		} else if j, dup := images[img]; dup {
			errs.add(p+".image", "%q is also the image of volumes[%d]; expected unique images", v.Image, j)
		} else {
			images[img] = i
		}
		errs.noLineBreak(p+".image", v.Image)
		errs.imagePath(p+".image", v.Image)
		autoCreate := v.AutoCreate == nil || *v.AutoCreate
		switch {
		case v.Size < 0:
			errs.add(p+".size", "%d MiB is negative", v.Size)
		case v.Size == 0 && autoCreate && v.Base == "":
			errs.add(p+".size", "required with autoCreate; expected the image size in MiB")
		case v.Size > 0:
			errs.check(p+".size", volume.CheckSize(v.Size))
		}
		if _, ok := labelMax[v.FsType]; autoCreate && v.Base == "" && !ok {
			errs.add(p+".fsType", "%q cannot be created; expected one of ext2, ext3, ext4, xfs, btrfs, vfat, or autoCreate = false", v.FsType)
		}
		if n, ok := labelMax[v.FsType]; ok && len(v.Label) > n {
			errs.add(p+".label", "%q is %d bytes; %s labels hold at most %d", v.Label, len(v.Label), v.FsType, n)
		}
		errs.noLineBreak(p+".label", v.Label)
		// The guest reads a disk's serial from the virtio-blk device ID,
		// VIRTIO_BLK_ID_BYTES (20) long: cloud-hypervisor refuses longer
		// ones (DiskConfig::validate, vmm/src/config.rs), and so does
		// crosvm for its id; qemu and StratoVirt cut them, so the guest
		// would not find /dev/disk/by-id/virtio-SERIAL.
		if len(v.Serial) > MaxSerial {
			errs.add(p+".serial", "%q is %d bytes; a virtio-blk serial holds at most %d", v.Serial, len(v.Serial), MaxSerial)
		}
		errs.noLineBreak(p+".serial", v.Serial)
		s.validateImageSource(errs, p, v, autoCreate)
		if v.IsRoot() {
			if j, dup := root[true]; dup {
				errs.add(p+".root", "volumes[%d] is the root disk already; expected one root disk at most", j)
			} else {
				root[true] = i
			}
		}
	}
}

// validateImageSource checks format, base and convert: how the image is
// made and read.
func (s *Spec) validateImageSource(errs *errorList, p string, v Volume, autoCreate bool) {
	if v.Format != "" { // "" before ApplyDefaults
		errs.oneOf(p+".format", v.Format, FormatRaw, FormatQcow2)
	}
	errs.noLineBreak(p+".base", v.Base)
	switch {
	case v.Base == "" && v.Convert:
		errs.add(p+".convert", "needs base: it makes the image as a raw copy of the base image")
	case v.Base == "" && v.Format == FormatQcow2 && autoCreate:
		errs.add(p+".format", `"qcow2" cannot be made by autoCreate, which runs mkfs on a raw image; set base to make a qcow2 overlay of a base image, or autoCreate = false for an existing qcow2 image`)
	case v.Base == "":
	case !autoCreate:
		errs.add(p+".autoCreate", "false with base: base makes the image on first start; leave autoCreate out, or base out for an existing image")
	case v.Convert && v.Format == FormatQcow2:
		errs.add(p+".format", "%q with convert: convert makes a raw copy of the base; leave format out", v.Format)
	case !v.Convert && v.Format == FormatRaw:
		errs.add(p+".format", "%q with base: the image is a qcow2 overlay of the base; leave format out, or set convert = true for a raw copy", v.Format)
	}
	if v.Base != "" && v.Label != "" {
		errs.add(p+".label", "is set by mkfs, which a volume with base does not run; the image has the base's file system and label")
	}
	if v.Base != "" && len(v.MkfsArgs) > 0 {
		errs.add(p+".mkfsExtraArgs", "are for mkfs, which a volume with base does not run")
	}
}
