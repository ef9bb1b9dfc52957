package virtiofsd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testConfig(t *testing.T) Config {
	return Config{
		Binary:       fakeBinary(t),
		Group:        os.Getgid(),
		Log:          slog.New(slog.NewTextHandler(t.Output(), nil)),
		ReadyTimeout: 10 * time.Second,
		RestartDelay: 20 * time.Millisecond,
		StopTimeout:  time.Second,
	}
}

// testShares returns n shares whose sources do not exist yet.
func testShares(t *testing.T, n int) []Share {
	dir := t.TempDir()
	var shares []Share
	for i := range n {
		tag := fmt.Sprintf("share%d", i)
		shares = append(shares, Share{
			Tag:    tag,
			Source: filepath.Join(dir, "src", tag),
			Socket: filepath.Join(dir, tag+".sock"),
		})
	}
	return shares
}

func setMode(t *testing.T, s Share, mode string) {
	if err := os.WriteFile(s.Socket+".mode", []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runs returns the pids of every run of the fake for s.
func runs(t *testing.T, s Share) []int {
	data, err := os.ReadFile(s.Socket + ".runs")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// wantGone checks that no run of any share is still alive and that the
// sockets and pid files are gone.
func wantGone(t *testing.T, shares []Share) {
	t.Helper()
	for _, s := range shares {
		for _, pid := range runs(t, s) {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("share %s: process %d still there (kill 0: %v)", s.Tag, pid, err)
			}
		}
		for _, p := range []string{s.Socket, s.Socket + ".pid"} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("share %s: %s left behind", s.Tag, p)
			}
		}
	}
}

// TestStartTwelveShares: more than microvm.nix's supervisord could count
// (#554); every socket must listen before Start returns.
func TestStartTwelveShares(t *testing.T) {
	shares := testShares(t, 12)
	f, err := Start(t.Context(), "web", shares, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	table, err := readListeners()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		if fi, err := os.Stat(s.Source); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
			t.Errorf("share %s: source not created 0755: %v %v", s.Tag, fi.Mode(), err)
		}
		if len(table[s.Socket]) == 0 {
			t.Errorf("share %s: socket not listening after Start", s.Tag)
		}
		fi, err := os.Stat(s.Socket)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o770 || int(st.Gid) != os.Getgid() {
			t.Errorf("share %s: socket mode %v group %d, want 0770 group %d", s.Tag, fi.Mode().Perm(), st.Gid, os.Getgid())
		}
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := f.Wait(); err != nil {
		t.Errorf("Wait after Stop: %v", err)
	}
	wantGone(t, shares)
}

func TestStartOneNeverListens(t *testing.T) {
	shares := testShares(t, 3)
	setMode(t, shares[1], "never")
	c := testConfig(t)
	c.ReadyTimeout = 500 * time.Millisecond
	_, err := Start(t.Context(), "web", shares, c)
	if err == nil || !strings.Contains(err.Error(), `"share1"`) || !strings.Contains(err.Error(), `"web"`) {
		t.Fatalf("Start: %v, want an error naming VM web and share1", err)
	}
	if strings.Contains(err.Error(), `"share0"`) {
		t.Errorf("error %q blames a share that was ready", err)
	}
	wantGone(t, shares)
}

func TestStartDaemonExits(t *testing.T) {
	shares := testShares(t, 2)
	setMode(t, shares[0], "exit-now")
	start := time.Now()
	_, err := Start(t.Context(), "web", shares, testConfig(t))
	if err == nil || !strings.Contains(err.Error(), "failing, as told") {
		t.Fatalf("Start: %v, want the daemon's output in the error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Start took %v to notice an exited daemon", took)
	}
	wantGone(t, shares)
}

func TestStopKillsIgnoringDaemon(t *testing.T) {
	shares := testShares(t, 2)
	setMode(t, shares[0], "ignore-term")
	c := testConfig(t)
	c.StopTimeout = 200 * time.Millisecond
	f, err := Start(t.Context(), "web", shares, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	wantGone(t, shares)
}

func TestStartRefusesBadShares(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Share{Tag: "ok", Source: filepath.Join(dir, "ok"), Socket: filepath.Join(dir, "ok.sock")}
	for _, tc := range []struct {
		name    string
		share   Share
		mention string
	}{
		{"source is a file", Share{Tag: "data", Source: file, Socket: filepath.Join(dir, "d.sock")}, "not a directory"},
		{"socket dir missing", Share{Tag: "data", Source: dir, Socket: filepath.Join(dir, "nope", "d.sock")}, "socket directory"},
		{"file at socket path", Share{Tag: "data", Source: dir, Socket: file}, "not a socket"},
		{"relative source", Share{Tag: "data", Source: "data", Socket: filepath.Join(dir, "d.sock")}, "not absolute"},
		{"socket path too long", Share{Tag: "data", Source: dir, Socket: "/" + strings.Repeat("s", 120)}, "longer than"},
		{"duplicate tag", Share{Tag: "ok", Source: dir, Socket: filepath.Join(dir, "d.sock")}, "duplicate tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(t.Context(), "web", []Share{ok, tc.share}, testConfig(t))
			if err == nil {
				t.Fatal("Start succeeded")
			}
			for _, m := range []string{`VM "web"`, `share "` + tc.share.Tag + `"`, tc.mention} {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
			if len(runs(t, ok)) != 0 {
				t.Error("a daemon was started for a refused fleet")
			}
			if _, err := os.Stat(file); err != nil {
				t.Errorf("the file in the way was removed: %v", err)
			}
		})
	}
}

func TestStartCancelled(t *testing.T) {
	shares := testShares(t, 1)
	setMode(t, shares[0], "never")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := Start(ctx, "web", shares, testConfig(t)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start: %v, want %v", err, context.DeadlineExceeded)
	}
	wantGone(t, shares)
}

func TestStartNoShares(t *testing.T) {
	c := testConfig(t)
	c.Binary = "/nonexistent/virtiofsd"
	f, err := Start(t.Context(), "web", nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Ready(t.Context()); err != nil {
		t.Error(err)
	}
	if err := f.Stop(); err != nil {
		t.Error(err)
	}
}

// TestStartRefusesCFlavorForTags: crosvm reads the mount tag from
// virtiofsd, which only the Rust one can announce.
func TestStartRefusesCFlavorForTags(t *testing.T) {
	c := testConfig(t)
	c.Binary = filepath.Join(t.TempDir(), "virtiofsd")
	help := "#!/bin/sh\necho 'usage: virtiofsd [options]'\necho '    -o source=PATH             shared directory tree'\n"
	if err := os.WriteFile(c.Binary, []byte(help), 0o755); err != nil {
		t.Fatal(err)
	}
	c.AnnounceTags = true
	shares := testShares(t, 1)
	f, err := Start(t.Context(), "vm", shares, c)
	if err == nil {
		f.Stop()
		t.Fatal("Start with the C virtiofsd and AnnounceTags: no error")
	}
	if want := "is the C virtiofsd, which cannot announce a share's mount tag (it has no --tag)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if runs(t, shares[0]) != nil {
		t.Error("a daemon was started")
	}
}
