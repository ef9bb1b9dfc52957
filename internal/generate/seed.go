package generate

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/microvm-host/microvm/internal/cloudinit"
	"github.com/microvm-host/microvm/internal/printable"
	"github.com/microvm-host/microvm/internal/spec"
)

// CloudInit is what build.json records about a runner's cloud-init seed:
// where its content comes from and the hash of the seed it makes. The
// content itself stays out of the runner, which anyone can read; the host
// composes the seed again from the spec at every start and refuses to
// start when the hash differs (the spec or a file changed: rebuild).
type CloudInit struct {
	UserDataFile      string `json:"userDataFile,omitempty"`
	NetworkConfigFile string `json:"networkConfigFile,omitempty"`
	SHA256            string `json:"sha256"`
}

// cloudInitRecord is build.json's record of seed, the seed of s.
func cloudInitRecord(s *spec.Spec, seed *cloudinit.Seed) *CloudInit {
	if seed == nil {
		return nil
	}
	return &CloudInit{UserDataFile: s.CloudInit.UserDataFile, NetworkConfigFile: s.CloudInit.NetworkConfigFile, SHA256: seed.SHA256()}
}

// SeedFileReader reads one of cloud-init's input files, named by the
// option that names it (for messages).
type SeedFileReader func(option, path string) ([]byte, error)

// Seed composes the cloud-init seed of s, whose paths must be resolved;
// nil when s has no [cloudInit]. read reads userDataFile and
// networkConfigFile.
func Seed(s *spec.Spec, read SeedFileReader) (*cloudinit.Seed, error) {
	c := s.CloudInit
	if c == nil {
		return nil, nil
	}
	cfg := cloudinit.Config{VM: s.Name, Hostname: c.Hostname, SSHAuthorizedKeys: c.SSHAuthorizedKeys}
	var err error
	switch {
	case c.UserDataFile != "":
		if cfg.UserData, err = read("cloudInit.userDataFile", c.UserDataFile); err != nil {
			return nil, err
		}
	case c.UserData != "":
		cfg.UserData = []byte(c.UserData)
	}
	switch {
	case c.NetworkConfigFile != "":
		if cfg.NetworkConfig, err = read("cloudInit.networkConfigFile", c.NetworkConfigFile); err != nil {
			return nil, err
		}
	case c.NetworkConfig != "":
		cfg.NetworkConfig = []byte(c.NetworkConfig)
	}
	seed, err := cloudinit.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cloudInit: %w", err)
	}
	return seed, nil
}

// ReadSeedFile reads a file of cloud-init's content: a regular file (a
// FIFO would block, /dev/zero never end) of at most cloudinit.MaxContent
// bytes.
func ReadSeedFile(option, path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer; it changes
	// nothing for a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", option, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", option, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %q is %s; expected a regular file", option, path, printable.FileKind(fi.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, cloudinit.MaxContent+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %q: %w", option, path, err)
	}
	if len(data) > cloudinit.MaxContent {
		return nil, fmt.Errorf("%s %q is %d bytes; a cloud-init seed holds at most %d (1 MiB) of user-data, network-config and meta-data together: "+
			"move large files into a share, or let the guest fetch them (#include)",
			option, path, max(fi.Size(), int64(len(data))), cloudinit.MaxContent)
	}
	return data, nil
}
