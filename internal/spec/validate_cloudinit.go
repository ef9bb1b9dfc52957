package spec

import (
	"fmt"

	"github.com/microvm-host/microvm/internal/cloudinit"
)

// validateCloudInit checks what can be checked without reading files:
// userDataFile and networkConfigFile are read when the runner is built,
// and again by the host at every start.
func (s *Spec) validateCloudInit(errs *errorList) {
	c := s.CloudInit
	if c == nil {
		return
	}
	const p = "cloudInit."
	if n := len(s.Volumes) + 1; n > MaxVolumes {
		errs.add("cloudInit", "the seed is disk %d after %d volumes; at most %d disks fit the drive ids vda to vdz", n, len(s.Volumes), MaxVolumes)
	}
	if c.UserData != "" && c.UserDataFile != "" {
		errs.add(p+"userDataFile", "set together with userData; expected one of them: userData holds the user-data, userDataFile names a file holding it")
	}
	if c.NetworkConfig != "" && c.NetworkConfigFile != "" {
		errs.add(p+"networkConfigFile", "set together with networkConfig; expected one of them: networkConfig holds the document, networkConfigFile names a file holding it")
	}
	errs.noLineBreak(p+"userDataFile", c.UserDataFile)
	errs.noLineBreak(p+"networkConfigFile", c.NetworkConfigFile)
	if c.UserData != "" {
		errs.check(p+"userData", cloudinit.CheckUserData([]byte(c.UserData), len(c.SSHAuthorizedKeys) > 0))
	}
	for i, k := range c.SSHAuthorizedKeys {
		errs.check(fmt.Sprintf("%ssshAuthorizedKeys[%d]", p, i), cloudinit.CheckKey(k))
	}
	if err := cloudinit.CheckHostname(c.Hostname); err != nil {
		if c.Hostname == s.Name {
			err = fmt.Errorf("the default, the VM name, %w; set hostname", err)
		}
		errs.check(p+"hostname", err)
	}
	if c.NetworkConfig != "" {
		errs.check(p+"networkConfig", cloudinit.CheckNetworkConfig([]byte(c.NetworkConfig)))
	}
}
