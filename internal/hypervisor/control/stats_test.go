package control

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestQMPWatchStatsRealQemu: the holder of the events monitor asks qemu
// for its disks and balloon on that connection while it watches, and
// the control socket stays free for a stop meanwhile.
func TestQMPWatchStatsRealQemu(t *testing.T) {
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 is not on PATH; install qemu-system-x86 to test QMP against a real qemu")
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		balloon bool
	}{{"balloon", true}, {"no balloon", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctl, events := filepath.Join(t.TempDir(), "qmp.sock"), filepath.Join(t.TempDir(), "events.sock")
			args := []string{"-machine", "microvm,accel=tcg", "-m", "256", "-nodefaults", "-display", "none",
				"-qmp", "unix:" + ctl + ",server,nowait",
				"-chardev", "socket,id=events,path=" + events + ",server=on,wait=off", "-mon", "chardev=events,mode=control",
				"-drive", "id=vda,format=raw,file=" + img + ",if=none", "-device", "virtio-blk-device,drive=vda"}
			if tc.balloon {
				args = append(args, "-device", "virtio-balloon-device")
			}
			cmd := exec.Command(bin, args...)
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			conn := dialRetry(t, events)
			defer conn.Close()
			ctx := testContext(t)
			w := NewQMPWatch(conn)
			ran := make(chan error, 1)
			go func() {
				_, err := w.Run(ctx)
				ran <- err
			}()
			blocks, err := QueryBlockStats(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if len(blocks) != 1 || blocks[0].Device != "vda" {
				t.Errorf("QueryBlockStats = %+v; want one disk, vda", blocks)
			}
			actual, ok, err := QueryBalloon(ctx, w)
			if err != nil || ok != tc.balloon || tc.balloon && actual != 256<<20 {
				t.Errorf("QueryBalloon = %d, %v, %v; want %d, %v", actual, ok, err, 256<<20, tc.balloon)
			}
			// The control socket is free all along.
			q, err := dialQMP(ctx, ctl)
			if err != nil {
				t.Fatal(err)
			}
			q.execute(ctx, "quit", nil)
			q.Close()
			if err := <-ran; err != nil {
				t.Errorf("Run: %v", err)
			}
			if _, err := QueryBlockStats(ctx, w); err == nil || !strings.Contains(err.Error(), "closed") {
				t.Errorf("QueryBlockStats after qemu quit: %v; want the watch's end", err)
			}
		})
	}
}

// TestQMPWatchExecuteFake: replies are told from events by their id, in
// whatever order they come, and events still make the ending.
func TestQMPWatchExecuteFake(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		server.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\r\n"))
		if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != capabilities {
			t.Errorf("got %q; want qmp_capabilities", line)
			return
		}
		server.Write([]byte(qmpOK + "\r\n"))
		line, err := r.ReadString('\n')
		if err != nil {
			t.Error(err)
			return
		}
		var req struct {
			Execute string          `json:"execute"`
			ID      json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &req); err != nil || req.Execute != "query-blockstats" || len(req.ID) == 0 {
			t.Errorf("command %q (%v); want query-blockstats with an id", line, err)
			return
		}
		for _, m := range []string{
			`{"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}}`,
			`{"return": [], "id": "someone-else"}`,
			`{"return": [{"device": "vdb", "stats": {"rd_bytes": 5, "wr_bytes": 6, "rd_operations": 1, "wr_operations": 2}}, {"device": "", "node-name": "root", "stats": {}}], "id": ` + string(req.ID) + `}`,
		} {
			server.Write([]byte(m + "\r\n"))
		}
	}()
	ctx := testContext(t)
	w := NewQMPWatch(client)
	ended := make(chan Ending, 1)
	go func() {
		end, err := w.Run(ctx)
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		ended <- end
	}()
	got, err := QueryBlockStats(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	want := []BlockStat{{Device: "root"}, {Device: "vdb", ReadBytes: 5, WriteBytes: 6, ReadOps: 1, WriteOps: 2}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("QueryBlockStats = %+v; want %+v", got, want)
	}
	if end := <-ended; end != (Ending{EndReboot, "guest-reset"}) {
		t.Errorf("ending %+v; want the reboot the event said", end)
	}
}
