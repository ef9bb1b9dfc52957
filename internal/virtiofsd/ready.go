package virtiofsd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procRoot is where procfs is mounted.
const procRoot = "/proc"

// acceptCon is __SO_ACCEPTCON in /proc/net/unix's Flags column: the
// socket is listening.
const acceptCon = 0x10000

// Readiness is read from /proc/net/unix, never by connecting: both
// virtiofsd flavors accept exactly one vhost-user connection, so a probe
// connection is served as if it were the VMM, and when the probe hangs up
// the daemon exits (checked with qemu 7.2's virtiofsd: "virtio_loop:
// Unexpected poll revents 11", then exit 0).
//
// A socket is ready when /proc/net/unix lists a listening socket bound to
// its path whose inode is among the daemon's open file descriptors (a
// stale daemon still listening on an unlinked socket of the same path does
// not count), and the path is a socket file (an unlinked one cannot be
// reached).

// listeners maps a bound path to the inodes of the listening sockets bound
// to it, from a /proc/net/unix table.
func listeners(r io.Reader) (map[string][]uint64, error) {
	m := map[string][]uint64{}
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode [Path]; the inode is
		// space-padded and the path may contain spaces.
		rest := sc.Text()
		var f [7]string
		for i := range f {
			rest = strings.TrimLeft(rest, " ")
			f[i], rest, _ = strings.Cut(rest, " ")
		}
		path := strings.TrimPrefix(rest, " ")
		if path == "" || path[0] == '@' {
			continue // unbound or abstract
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&acceptCon == 0 {
			continue
		}
		ino, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			continue
		}
		m[path] = append(m[path], ino)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading unix socket table: %w", err)
	}
	return m, nil
}

func readListeners() (map[string][]uint64, error) {
	f, err := os.Open(filepath.Join(procRoot, "net/unix"))
	if err != nil {
		return nil, fmt.Errorf("reading unix socket table: %w", err)
	}
	defer f.Close()
	return listeners(f)
}

// socketInodes returns the inodes of the sockets pid holds open.
func socketInodes(pid int) (map[uint64]bool, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := map[uint64]bool{}
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if s, ok := strings.CutPrefix(target, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				inodes[ino] = true
			}
		}
	}
	return inodes, nil
}

// groupMembers returns the other processes in process group pgid.
func groupMembers(pgid int) []int {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == pgid {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain anything.
		_, rest, _ := strings.Cut(string(stat[bytes.LastIndexByte(stat, ')')+1:]), " ")
		if f := strings.Fields(rest); len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// listening reports whether the daemon with process group leader pid
// listens on the unix socket at path, given the table from readListeners.
func listening(table map[string][]uint64, path string, pid int) bool {
	inos := table[path]
	if len(inos) == 0 {
		return false
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
		return false
	}
	holds := func(pid int) bool {
		held, err := socketInodes(pid)
		if errors.Is(err, fs.ErrPermission) {
			return true // no ptrace access: the path match has to do
		}
		for _, ino := range inos {
			if held[ino] {
				return true
			}
		}
		return false
	}
	if holds(pid) {
		return true
	}
	// Both flavors listen before forking their sandbox child, so the
	// leader holds the socket; should a version listen in the child, it is
	// still in the leader's group.
	for _, m := range groupMembers(pid) {
		if holds(m) {
			return true
		}
	}
	return false
}
