// Package cloudinit builds cloud-init NoCloud seeds: the meta-data,
// user-data and network-config files a guest's cloud-init reads from a
// disk labelled "cidata", written as an ISO 9660 image in Go (no
// genisoimage). Seeds are deterministic: the same content gives the same
// bytes, so a runner's identity can name the content by its hash while
// the content itself (user-data can hold secrets) stays out of the
// world-readable runner store. The host builds the seed at start, into
// the VM directory; see hostprep.
package cloudinit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// MaxContent is the most a seed holds, in bytes, of user-data,
// network-config and meta-data together. NoCloud seeds carry
// configuration, not payloads; larger files belong in a share or an
// #include the guest fetches. It also keeps the seed, which the host
// builds in memory at every start, small.
const MaxContent = 1 << 20

// Label is the volume label NoCloud looks for.
const Label = "cidata"

// Names of the files in a seed, as NoCloud reads them.
const (
	MetaDataFile      = "meta-data"
	UserDataFile      = "user-data"
	NetworkConfigFile = "network-config"
)

// formatVersion changes whenever the same content would give other seed
// bytes (another layout, another library release writing it
// differently), so that runners recording a content hash are rebuilt.
const formatVersion = "microvm-cloudinit/1"

// Seed is the content of a NoCloud seed. NetworkConfig is nil when the
// guest configures its network itself.
type Seed struct {
	MetaData      []byte
	UserData      []byte
	NetworkConfig []byte
}

// file is one file of a seed.
type file struct {
	name    string
	content []byte
}

// files are the seed's files, in name order (the order they are hashed
// and written in).
func (s *Seed) files() []file {
	fs := []file{{MetaDataFile, s.MetaData}}
	if s.NetworkConfig != nil {
		fs = append(fs, file{NetworkConfigFile, s.NetworkConfig})
	}
	return append(fs, file{UserDataFile, s.UserData})
}

// Size is the content's size in bytes, what MaxContent bounds.
func (s *Seed) Size() int {
	return len(s.MetaData) + len(s.UserData) + len(s.NetworkConfig)
}

// SHA256 is the hash of the seed's content and format, hex-encoded: equal
// hashes mean byte-identical images. A runner records it to tell, at
// start, whether the content it was built for is still what its spec says.
func (s *Seed) SHA256() string {
	h := sha256.New()
	io.WriteString(h, formatVersion+"\x00")
	for _, f := range s.files() {
		writeField(h, f.name)
		writeField(h, string(f.content))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes v length-prefixed, so no two sequences of fields hash
// alike.
func writeField(h hash.Hash, v string) {
	binary.Write(h, binary.BigEndian, uint64(len(v)))
	io.WriteString(h, v)
}

// checkSize refuses a seed over MaxContent.
func (s *Seed) checkSize() error {
	if n := s.Size(); n > MaxContent {
		return fmt.Errorf("the seed's user-data (%d bytes), network-config (%d bytes) and meta-data (%d bytes) are %d bytes together; a seed holds at most %d (1 MiB): "+
			"move large files into a share, or let the guest fetch them (#include)",
			len(s.UserData), len(s.NetworkConfig), len(s.MetaData), n, MaxContent)
	}
	return nil
}
