package cloudinit

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	diskfile "github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// blockSize is ISO 9660's logical block size.
const blockSize = 2048

// epoch is every time stamp in a seed: the content, not the moment it was
// written, decides the bytes.
var epoch = time.Unix(0, 0).UTC()

// WriteISO writes the seed to f as an ISO 9660 image labelled cidata,
// with Joliet names (plain ISO 9660 names are upper case 8.3, and
// NoCloud's file names have a '-'). Linux reads Joliet names by default;
// cloud-init finds the disk by its label. go-diskfs builds the image from
// a scratch directory: it is made inside scratch, which should be
// readable by root alone since user-data can hold secrets, and removed.
func (s *Seed) WriteISO(f *os.File, scratch string) error {
	if err := s.checkSize(); err != nil {
		return err
	}
	ws, err := os.MkdirTemp(scratch, "cidata-")
	if err != nil {
		return fmt.Errorf("seed scratch directory: %w", err)
	}
	defer os.RemoveAll(ws)
	for _, fl := range s.files() {
		p := filepath.Join(ws, fl.name)
		if err := os.WriteFile(p, fl.content, 0o600); err != nil {
			return fmt.Errorf("seed scratch file: %w", err)
		}
		if err := os.Chtimes(p, epoch, epoch); err != nil {
			return err
		}
	}
	if err := os.Chtimes(ws, epoch, epoch); err != nil {
		return err
	}
	fs, err := iso9660.Create(diskfile.New(f, false), 0, 0, blockSize, ws)
	if err != nil {
		return fmt.Errorf("creating the seed image: %w", err)
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{Joliet: true, VolumeIdentifier: Label}); err != nil {
		return fmt.Errorf("writing the seed image: %w", err)
	}
	if err := fixDescriptorTimes(f); err != nil {
		return err
	}
	return padToVolumeSize(f)
}

// Offsets of the time stamps in a volume descriptor (ECMA-119 §8.4.26 to
// §8.4.29: creation, modification, expiration and effective date, 17
// bytes each).
const (
	descriptorStart = 16 // the first volume descriptor's block
	timesOffset     = 813
	timeLen         = 17
	sizeOffset      = 80 // volume space size in blocks, both-endian: little-endian first (§8.4.8)
)

// Volume descriptor types (ECMA-119 §8.1.1).
const (
	primaryDescriptor       = 1
	supplementaryDescriptor = 2
	terminatorDescriptor    = 255
)

// fixDescriptorTimes sets the time stamps of the primary and Joliet
// volume descriptors to epoch: go-diskfs v1.9.4 stamps them with
// time.Now() (iso9660/finalize.go), with no option to pass a time, which
// would make two seeds of the same content differ.
func fixDescriptorTimes(f *os.File) error {
	stamp := []byte(epoch.Format("20060102150405") + "00\x00") // centiseconds, then the zone offset: UTC
	unset := []byte("0000000000000000\x00")                    // "not specified" (§8.4.26.1)
	for block := int64(descriptorStart); ; block++ {
		typ := make([]byte, 1)
		if _, err := f.ReadAt(typ, block*blockSize); err != nil {
			return fmt.Errorf("reading the seed's volume descriptors: %w", err)
		}
		switch typ[0] {
		case terminatorDescriptor:
			return nil
		case primaryDescriptor, supplementaryDescriptor:
			for i, v := range [][]byte{stamp, stamp, unset, stamp} {
				if _, err := f.WriteAt(v, block*blockSize+timesOffset+int64(i*timeLen)); err != nil {
					return fmt.Errorf("writing the seed's volume descriptors: %w", err)
				}
			}
		}
		if block > descriptorStart+8 {
			return fmt.Errorf("the seed image has no volume descriptor terminator")
		}
	}
}

// padBlocks is how many zero blocks follow the volume: genisoimage's
// default padding (-pad, 150 sectors). Readers probe a fixed span from
// the start of a disk whatever its size: busybox's findfs and blkid read
// 68 KiB and find no label on a smaller disk, which a seed of a few
// files is.
const padBlocks = 150

// padToVolumeSize extends the image to the volume size its primary
// descriptor records, plus padBlocks: go-diskfs v1.9.4 leaves the last
// block short when what it writes last does not fill it, and a guest
// sees a disk of whole 512-byte sectors only, so it would miss the tail.
func padToVolumeSize(f *os.File) error {
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, descriptorStart*blockSize+sizeOffset); err != nil {
		return fmt.Errorf("reading the seed's volume size: %w", err)
	}
	return f.Truncate((int64(binary.LittleEndian.Uint32(b)) + padBlocks) * blockSize)
}

// ReadISO reads a seed image back: its volume label and files by name.
// It is for checks and tests; the guest's kernel reads the real thing.
func ReadISO(path string) (label string, files map[string][]byte, err error) {
	b, err := diskfile.OpenFromPath(path, true)
	if err != nil {
		return "", nil, err
	}
	defer b.Close()
	fs, err := iso9660.Read(b, 0, 0, blockSize)
	if err != nil {
		return "", nil, fmt.Errorf("reading %s: %w", path, err)
	}
	entries, err := fs.ReadDir(".")
	if err != nil {
		return "", nil, fmt.Errorf("reading %s: %w", path, err)
	}
	files = map[string][]byte{}
	for _, e := range entries {
		data, err := fs.ReadFile(e.Name())
		if err != nil {
			return "", nil, fmt.Errorf("reading %s from %s: %w", e.Name(), path, err)
		}
		files[e.Name()] = data
	}
	// go-diskfs pads the label with NULs where ECMA-119 has spaces;
	// blkid reads either as "cidata".
	return strings.TrimRight(fs.Label(), "\x00 "), files, nil
}
