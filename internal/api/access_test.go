package api

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccess(t *testing.T) {
	proc := t.TempDir()
	status := func(pid, uids, groups string) {
		os.MkdirAll(filepath.Join(proc, pid), 0o755)
		b := "Name:\tsh\nUid:\t" + uids + "\nGid:\t100\t100\t100\t100\nGroups:\t" + groups + "\n"
		if err := os.WriteFile(filepath.Join(proc, pid, "status"), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	status("42", "1002\t1002\t1002\t1002", "5 50 100")
	status("43", "0\t0\t0\t0", "0 50") // pid reused by another user's process
	status("44", "1000\t1000\t1000\t1000", "50")
	admins := &Access{vmUser: "microvm", vmUID: 1000, hasVMUser: true, adminGroup: "ops", adminGID: 50, hasAdmin: true, proc: proc}
	rootOnly := &Access{vmUser: "microvm", vmUID: 1000, hasVMUser: true, proc: proc}
	for _, tc := range []struct {
		name  string
		acc   *Access
		peer  Peer
		known bool
		deny  string // "" allowed
	}{
		{"root", admins, Peer{UID: 0, GID: 0}, true, ""},
		{"root without an admin group", rootOnly, Peer{UID: 0, GID: 0, PID: 1}, true, ""},
		{"unknown peer", admins, Peer{}, false, "could not tell who is asking"},
		{"VM user", admins, Peer{UID: 1000, GID: 100}, true, `uid 1000 is the VM user "microvm"`},
		{"VM user in the admin group", admins, Peer{UID: 1000, GID: 50, PID: 44}, true, `the VM user "microvm", which may only read status (an escaped guest runs as it); starting, stopping and restarting VMs through the API is for root and members of group "ops"`},
		{"primary group", admins, Peer{UID: 1001, GID: 50}, true, ""},
		{"supplementary group", admins, Peer{UID: 1002, GID: 100, PID: 42}, true, ""},
		{"pid reused by another uid", admins, Peer{UID: 1002, GID: 100, PID: 43}, true, `uid 1002 may read status only; starting, stopping and restarting VMs through the API is for root and members of group "ops"`},
		{"pid gone", admins, Peer{UID: 1002, GID: 100, PID: 99}, true, "may read status only"},
		{"no pid", admins, Peer{UID: 1002, GID: 100}, true, "may read status only"},
		{"no admin group", rootOnly, Peer{UID: 1001, GID: 50, PID: 42}, true, "is for root only (set apiAdminGroup in host.toml to allow a group)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.acc.MayChange(tc.peer, tc.known)
			if tc.deny == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), tc.deny) {
				t.Fatalf("got %v, want ErrForbidden with %q", err, tc.deny)
			}
		})
	}
}

func TestNewAccess(t *testing.T) {
	if _, err := NewAccess("root", "", "/proc"); err != nil {
		t.Fatal(err)
	}
	a, err := NewAccess("root", "root", "/proc")
	if err != nil {
		t.Fatal(err)
	}
	if !a.hasVMUser || a.vmUID != 0 || !a.hasAdmin || a.adminGID != 0 {
		t.Fatalf("resolved %+v", a)
	}
	// No VM user and no admin group: nobody but root changes anything,
	// so there is nothing to refuse the VM user.
	if _, err := NewAccess("no-such-user-microvm", "", "/proc"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ user, group, want string }{
		{"root", "no-such-group-microvm", `apiAdminGroup "no-such-group-microvm": group: unknown group no-such-group-microvm; create the group or remove the setting`},
		{"no-such-user-microvm", "root", `apiAdminGroup "root": the VM user "no-such-user-microvm" does not exist`},
	} {
		if _, err := NewAccess(tc.user, tc.group, "/proc"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAccess(%q, %q): %v, want %q", tc.user, tc.group, err, tc.want)
		}
	}
}
