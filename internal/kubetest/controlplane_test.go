package kubetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// buildControlPlane runs scripts/build-kube.sh (cached per machine) and
// returns the directory of the binaries; it skips the test, saying why,
// when they cannot be built.
func buildControlPlane(t *testing.T) string {
	cmd := exec.Command("../../scripts/build-kube.sh")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("the control plane cannot be built (scripts/build-kube.sh: %v); this tier needs the Go module proxy once per machine:\n%s", err, tail(stderr.String(), 20))
	}
	t.Logf("control plane binaries: %s (%s)", strings.TrimSpace(string(out)), time.Since(start).Round(time.Second))
	return strings.TrimSpace(string(out))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// pki is the cluster's certificates and credentials, as files in dir.
type pki struct {
	dir        string
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	token      string
	kubeconfig string
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func newPKI(t *testing.T, dir string) *pki {
	p := &pki{dir: dir, token: fmt.Sprintf("kubetest-%d", time.Now().UnixNano())}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubetest-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	check(t, err)
	p.ca, err = x509.ParseCertificate(der)
	check(t, err)
	p.caKey = key
	writePEM(t, p.path("ca.pem"), "CERTIFICATE", der)
	p.issue(t, "apiserver", &x509.Certificate{
		Subject: pkix.Name{CommonName: "kube-apiserver"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP(bridgeAddr), net.ParseIP("10.96.0.1")}, DNSNames: []string{"kubernetes", "kubernetes.default.svc"},
	})
	p.issue(t, "kubelet-client", &x509.Certificate{
		Subject: pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(t, err)
	b, err := x509.MarshalPKCS8PrivateKey(sa)
	check(t, err)
	writePEM(t, p.path("sa.key"), "PRIVATE KEY", b)
	b, err = x509.MarshalPKIXPublicKey(&sa.PublicKey)
	check(t, err)
	writePEM(t, p.path("sa.pub"), "PUBLIC KEY", b)
	check(t, os.WriteFile(p.path("tokens.csv"), []byte(p.token+",admin,admin,system:masters\n"), 0o600))
	p.kubeconfig = p.path("kubeconfig")
	check(t, os.WriteFile(p.kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: https://%s:6443
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: kubetest
  context:
    cluster: kubetest
    user: admin
current-context: kubetest
`, bridgeAddr, p.path("ca.pem"), p.token)), 0o600))
	return p
}

// issue writes NAME.pem and NAME.key, signed by the CA.
func (p *pki) issue(t *testing.T, name string, tmpl *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	check(t, err)
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	check(t, err)
	writePEM(t, p.path(name+".pem"), "CERTIFICATE", der)
	b, err := x509.MarshalPKCS8PrivateKey(key)
	check(t, err)
	writePEM(t, p.path(name+".key"), "PRIVATE KEY", b)
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	check(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// proc is a process the test started, its output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
}

// startIn starts argv in the network namespace ns, with env added.
func startIn(t *testing.T, ns, logDir, name string, env []string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(logDir, name+".log")}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	check(t, err)
	defer f.Close()
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	check(t, p.cmd.Start())
	go p.cmd.Wait()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
	}
}

// logTail is the end of the process's log, for failure messages.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	return p.name + ":\n" + tail(string(b), 30)
}

// controlPlane starts etcd, kube-apiserver, kube-scheduler and
// kube-controller-manager in the control namespace, and returns a client
// once the API server is ready. The node monitor and the Pods'
// tolerations (see vmPod) are short, so that a lost host's Pods are
// replaced within a minute.
func controlPlane(t *testing.T, bin string, n *network, p *pki) (*kubernetes.Clientset, []*proc) {
	dir := t.TempDir()
	etcd := startIn(t, n.ctl, p.dir, "etcd", nil, filepath.Join(bin, "etcd"),
		"--data-dir", filepath.Join(dir, "etcd"), "--unsafe-no-fsync",
		"--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
		"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--initial-cluster", "default=http://127.0.0.1:2380")
	api := startIn(t, n.ctl, p.dir, "kube-apiserver", nil, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers=http://127.0.0.1:2379", "--secure-port=6443",
		"--bind-address="+bridgeAddr, "--advertise-address="+bridgeAddr, "--endpoint-reconciler-type=none",
		"--tls-cert-file="+p.path("apiserver.pem"), "--tls-private-key-file="+p.path("apiserver.key"),
		"--client-ca-file="+p.path("ca.pem"),
		"--service-account-key-file="+p.path("sa.pub"), "--service-account-signing-key-file="+p.path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc", "--token-auth-file="+p.path("tokens.csv"),
		"--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/24",
		"--kubelet-client-certificate="+p.path("kubelet-client.pem"), "--kubelet-client-key="+p.path("kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP",
		// Pods get no service account token volume: VM pods take none.
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false")
	procs := []*proc{etcd, api}
	client := newClient(t, n, p)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for {
		_, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("kube-apiserver not ready: %v\n%s\n%s", err, api.logTail(), etcd.logTail())
		}
		time.Sleep(500 * time.Millisecond)
	}
	procs = append(procs,
		startIn(t, n.ctl, p.dir, "kube-scheduler", nil, filepath.Join(bin, "kube-scheduler"),
			"--kubeconfig="+p.kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1"),
		startIn(t, n.ctl, p.dir, "kube-controller-manager", nil, filepath.Join(bin, "kube-controller-manager"),
			"--kubeconfig="+p.kubeconfig, "--leader-elect=false", "--bind-address=127.0.0.1",
			"--node-monitor-period=2s", "--node-monitor-grace-period=20s",
			"--service-account-private-key-file="+p.path("sa.key"), "--root-ca-file="+p.path("ca.pem"),
			"--use-service-account-credentials=false"))
	return client, procs
}

// newClient is the test's client: the admin's token, dialling from the
// control namespace.
func newClient(t *testing.T, n *network, p *pki) *kubernetes.Clientset {
	caPEM, err := os.ReadFile(p.path("ca.pem"))
	check(t, err)
	cfg := &rest.Config{
		Host:            "https://" + bridgeAddr + ":6443",
		BearerToken:     p.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		Dial:            n.dial,
		QPS:             50,
		Burst:           100,
	}
	c, err := kubernetes.NewForConfig(cfg)
	check(t, err)
	return c
}
