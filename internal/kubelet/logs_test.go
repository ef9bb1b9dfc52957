package kubelet

import (
	"bufio"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
)

func TestLogs(t *testing.T) {
	ctx := t.Context()
	h := newFakeHost(t)
	p, _ := newTestProvider(t, ctx, h, t.TempDir())
	pod := testPod("talker")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, p, pod, corev1.PodRunning)
	log := h.LogPath(VMName(pod))
	if err := os.WriteFile(log, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read := func(opts api.ContainerLogOpts) string {
		t.Helper()
		rc, err := p.GetContainerLogs(ctx, pod.Namespace, pod.Name, "app", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		opts api.ContainerLogOpts
		want string
	}{
		{api.ContainerLogOpts{}, "one\ntwo\nthree\n"},
		{api.ContainerLogOpts{Tail: 2}, "two\nthree\n"},
		{api.ContainerLogOpts{Tail: 5}, "one\ntwo\nthree\n"},
		{api.ContainerLogOpts{LimitBytes: 5}, "one\nt"},
	} {
		if got := read(tc.opts); got != tc.want {
			t.Errorf("logs %+v: %q; want %q", tc.opts, got, tc.want)
		}
	}

	// Following returns what the VM writes next, and ends with the Pod.
	rc, err := p.GetContainerLogs(ctx, pod.Namespace, pod.Name, "app", api.ContainerLogOpts{Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	if line, err := br.ReadString('\n'); err != nil || line != "three\n" {
		t.Fatalf("followed log starts with %q, %v; want the last line", line, err)
	}
	got := make(chan string)
	go func() {
		b, _ := io.ReadAll(br)
		got <- string(b)
	}()
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("four\n")
	f.Close()
	time.Sleep(500 * time.Millisecond)
	if err := p.DeletePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "four\n" {
			t.Errorf("followed %q after the last line; want %q", s, "four\n")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("following did not end with the pod")
	}
}
