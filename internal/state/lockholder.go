package state

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/microvm-host/microvm/internal/printable"
)

// lockHolder names the process holding the flock on path, from
// /proc/locks ("pid 4242 (microvm update web)"), or "another process"
// when it cannot tell.
func lockHolder(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "another process"
	}
	st := fi.Sys().(*syscall.Stat_t)
	pid := lockPID("/proc/locks", uint32(unix.Major(st.Dev)), uint32(unix.Minor(st.Dev)), st.Ino)
	if pid == 0 {
		return "another process"
	}
	cmd, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(cmd) == 0 {
		return fmt.Sprintf("pid %d", pid)
	}
	args := strings.Fields(strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " "))
	if len(args) > 0 {
		args[0] = args[0][strings.LastIndexByte(args[0], '/')+1:]
	}
	return fmt.Sprintf("pid %d (%s)", pid, printable.String(strings.Join(args, " ")))
}

// lockPID finds the holder of a lock on the file with the given device
// and inode in a /proc/locks table: lines like
// "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF", where waiters have
// an extra "->" field and are skipped.
func lockPID(table string, major, minor uint32, ino uint64) int {
	f, err := os.Open(table)
	if err != nil {
		return 0
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" || fields[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}
