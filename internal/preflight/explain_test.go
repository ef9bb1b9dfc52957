package preflight

import (
	"strings"
	"testing"

	"github.com/microvm-host/microvm/internal/generate"
)

// vmUser is nobody:nogroup with a supplementary group kvm (gid 994); the
// names of owners are looked up, and uid and gid 0 are root on every host.
var vmUser = User{Name: "nobody", Group: "nogroup", UID: 65534, GID: 65534, Groups: []uint32{994}}

func TestExplain(t *testing.T) {
	img := Check{What: "volumes[0].image", Path: "/vm/data.img", Access: generate.AccessReadWrite}
	kernel := Check{What: "kernel", Path: "/boot/vmlinuz", Access: generate.AccessRead}
	share := Check{What: "shares[0].source", Path: "/srv/my share", Access: generate.AccessDir}
	for _, tc := range []struct {
		name string
		f    Finding
		want string
	}{
		{"image root's: becomes the VM user's",
			Finding{Check: img, Problem: Denied, Blocker: img.Path, Need: "rw", Owner: &Owner{0, 0, 0o600}},
			"volumes[0].image /vm/data.img is owned by root:root with mode 0600, and nobody needs to read and write it; fix: chown nobody:nogroup /vm/data.img"},
		{"image root's, owner read-only: the owner bits too",
			Finding{Check: img, Problem: Denied, Blocker: img.Path, Need: "rw", Owner: &Owner{0, 0, 0o400}},
			"fix: chown nobody:nogroup /vm/data.img && chmod u+rw /vm/data.img"},
		{"image of the VM user without write",
			Finding{Check: img, Problem: Denied, Blocker: img.Path, Need: "rw", Owner: &Owner{65534, 0, 0o400}},
			"fix: chmod u+rw /vm/data.img"},
		{"in a group of the VM user (supplementary)",
			Finding{Check: kernel, Problem: Denied, Blocker: kernel.Path, Need: "r", Owner: &Owner{0, 994, 0o600}},
			"fix: chmod g+r /boot/vmlinuz"},
		{"kernel: the VM group may read it",
			Finding{Check: kernel, Problem: Denied, Blocker: kernel.Path, Need: "r", Owner: &Owner{0, 0, 0o600}},
			"kernel /boot/vmlinuz is owned by root:root with mode 0600, and nobody needs to read it; fix: chgrp nogroup /boot/vmlinuz && chmod g+r /boot/vmlinuz"},
		{"share, quoted for the shell",
			Finding{Check: share, Problem: Denied, Blocker: share.Path, Need: "rx", Owner: &Owner{0, 0, 0o700}},
			`shares[0].source /srv/my share is owned by root:root with mode 0700, and nobody needs to list and enter it; fix: chgrp nogroup '/srv/my share' && chmod g+rx '/srv/my share'`},
		{"a directory on the way",
			Finding{Check: kernel, Problem: Denied, Blocker: "/boot", Need: "x", Owner: &Owner{0, 0, 0o700}},
			"kernel /boot/vmlinuz is out of reach: directory /boot is owned by root:root with mode 0700, and nobody needs to enter it; fix: chmod o+x /boot, or keep the file where nobody can reach it"},
		{"the mode allows it: something else denies",
			Finding{Check: kernel, Problem: Denied, Blocker: kernel.Path, Need: "r", Owner: &Owner{0, 0, 0o644}},
			"so an ACL, a mount option or a security module denies it (see getfacl /boot/vmlinuz)"},
		{"owner unknown: the system's words",
			Finding{Check: kernel, Problem: Denied, Err: "permission denied", Blocker: kernel.Path, Need: "r"},
			"kernel /boot/vmlinuz: nobody needs to read it: permission denied"},
		{"read-only file system",
			Finding{Check: img, Problem: ReadOnly, Blocker: img.Path, Need: "rw"},
			"volumes[0].image /vm/data.img is on a read-only file system, and nobody needs to read and write it; mount it read-write, or set readOnly = true for it"},
		{"missing kernel",
			Finding{Check: kernel, Problem: Missing, Blocker: kernel.Path},
			"kernel /boot/vmlinuz does not exist; the runner was built with it: put it back, or rebuild the runner from its spec (microvm update)"},
		{"missing base",
			Finding{Check: Check{What: "volumes[0].base", Path: "/img/debian.qcow2", Access: generate.AccessRead}, Problem: Missing, Blocker: "/img/debian.qcow2"},
			"volumes[0].base /img/debian.qcow2 does not exist; the volume's image is made from it on first start, and an overlay reads it for good: put it back, or set another base and rebuild (microvm update)"},
		{"base root's without read: the VM group may read it",
			Finding{Check: Check{What: "volumes[0].base", Path: "/img/debian.qcow2", Access: generate.AccessRead}, Problem: Denied, Blocker: "/img/debian.qcow2", Need: "r", Owner: &Owner{0, 0, 0o600}},
			"fix: chgrp nogroup /img/debian.qcow2 && chmod g+r /img/debian.qcow2"},
		{"base writable by the VM user",
			Finding{Check: Check{What: "volumes[0].base", Path: "/img/debian.qcow2", Access: generate.AccessShared}, Problem: Writable, Blocker: "/img/debian.qcow2", Need: "w", Owner: &Owner{65534, 0, 0o644}},
			"volumes[0].base /img/debian.qcow2 is writable by nobody (owned by nobody:root with mode 0644): a guest that escaped into its hypervisor could change the disk of every VM made from it; fix: chown root:nogroup /img/debian.qcow2 && chmod 0640 /img/debian.qcow2"},
		{"missing share",
			Finding{Check: share, Problem: Missing, Blocker: share.Path},
			`does not exist; create it: mkdir -p '/srv/my share' && chown nobody:nogroup '/srv/my share'`},
		{"wrong kind",
			Finding{Check: share, Problem: WrongKind, Blocker: share.Path, Kind: "a regular file"},
			`shares[0].source /srv/my share is a regular file; expected a directory`},
		{"escaped",
			Finding{Check: Check{What: "kernel", Path: "/boot/\x1b[2J"}, Problem: Failed, Err: "i/o error"},
			`kernel "/boot/\x1b[2J": i/o error`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Explain([]Finding{{Check: img}, tc.f}, vmUser)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got:\n%s\nwant it to contain:\n%s", err, tc.want)
			}
			if strings.Count(err.Error(), "\n") != 1 {
				t.Errorf("one line per problem, and only one problem:\n%s", err)
			}
		})
	}
	if err := Explain([]Finding{{Check: img}, {Check: kernel}}, vmUser); err != nil {
		t.Errorf("no problems: %v", err)
	}
}

func TestUserString(t *testing.T) {
	if got, want := (User{Name: "microvm", Group: "kvm", GID: 5}).String(), "microvm (group kvm)"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := (User{Name: "microvm", Group: "kvm", GID: 5, Groups: []uint32{5, 0}}).String(); got != "microvm (groups kvm, root)" {
		t.Errorf("with groups: %q", got)
	}
}
