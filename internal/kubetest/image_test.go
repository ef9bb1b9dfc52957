package kubetest

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/microvm-host/microvm/internal/guest"
	"github.com/microvm-host/microvm/internal/oci/ocitest"
	"github.com/microvm-host/microvm/internal/source"
)

// registryAddr is the test's image registry, in the control namespace:
// an RFC 1918 address, which clients reach over plain HTTP.
const registryAddr = bridgeAddr + ":5000"

// startRegistry serves an in-memory registry to the hosts.
func startRegistry(t *testing.T, n *network) {
	l, err := n.listen(registryAddr)
	check(t, err)
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// pushImage pushes an image of the host's busybox that runs argv as
// REGISTRY/repo:1, and returns its reference.
func pushImage(t *testing.T, n *network, repo string, argv ...string) string {
	entries, err := ocitest.Busybox(guest.DefaultBusybox)
	check(t, err)
	layer, err := ocitest.Layer(entries...)
	check(t, err)
	img, err := ocitest.Image(v1.Config{Entrypoint: argv}, layer)
	check(t, err)
	ref := registryAddr + "/" + repo + ":1"
	tag, err := name.NewTag(ref)
	check(t, err)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) { return n.dial(ctx, network, addr) }
	check(t, remote.Write(tag, img, remote.WithTransport(tr)))
	return ref
}

// canBootGuest reports what the real VM of the tier needs: qemu, a
// static busybox for its image and a kernel with modules.
func canBootGuest() bool {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return false
	}
	if _, err := os.Stat(guest.DefaultBusybox); err != nil {
		return false
	}
	_, _, err := guest.DefaultKernel()
	return err == nil
}

// buildInit builds cmd/microvm-init, the init of image VMs, and returns
// the environment that points the hosts at it.
func buildInit(t *testing.T) []string {
	path := filepath.Join(t.TempDir(), source.InitName)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", path, "../../cmd/microvm-init")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building microvm-init: %v\n%s", err, out)
	}
	return []string{source.EnvInit + "=" + path}
}
