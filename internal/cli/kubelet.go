package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/microvm-host/microvm/internal/api"
	"github.com/microvm-host/microvm/internal/kubelet"
	"github.com/microvm-host/microvm/internal/state"
)

// kubeletFlags are microvm kubelet's options.
type kubeletFlags struct {
	kubeconfig, nodeName, address, listen string
	tlsCert, tlsKey, clientCA             string
	cpu, memory, reserveCPU, reserveMem   string
	maxPods                               int
	reconcile                             time.Duration
}

func newKubeletCmd(e *env) *cobra.Command {
	var f kubeletFlags
	cmd := &cobra.Command{
		Use:   "kubelet --kubeconfig FILE [--node-name NAME]",
		Short: "Make this host a Kubernetes node whose Pods are microVMs",
		Long: `Register this host as a Kubernetes node (a virtual-kubelet provider) and
run the Pods scheduled to it as VMs of this host's daemon, which must be
running (microvm daemon). It runs next to the daemon, as root.

The node advertises the host's CPU and memory minus --reserve-cpu and
--reserve-memory, a pod limit, labels for the hypervisors found here
(hypervisor.microvm.dev/NAME=true), microvm.dev/kvm and the architecture,
and the taint microvm.dev/vm=true:NoSchedule: only Pods that tolerate it
land here. A Pod's first container's image is the guest; annotations
microvm.dev/hypervisor, /kernel, /kernel-params, /runner and /name
override the spec. See README.md, "Running a fleet on Kubernetes".

The kubelet API (kubectl logs) is served on --listen with TLS to clients
with a certificate of --client-ca: the API server's kubelet client
certificate (kube-apiserver --kubelet-client-certificate).

VMs it creates are recorded as the kubelet's (state.OwnerKubelet); it
only ever stops or removes those, never VMs made by hand.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return runKubelet(cmd, e, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the node's credentials (default $KUBECONFIG)")
	fl.StringVar(&f.nodeName, "node-name", "", "node name (default the host name)")
	fl.StringVar(&f.address, "address", "", "the node's InternalIP, where the API server reaches the kubelet API (default the host's first global IPv4 address)")
	fl.StringVar(&f.listen, "listen", ":10250", `kubelet API address; "" serves none (no kubectl logs)`)
	fl.StringVar(&f.tlsCert, "tls-cert", "", "kubelet API serving certificate (default a self-signed one)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "key of --tls-cert")
	fl.StringVar(&f.clientCA, "client-ca", "", "CA of the client certificates the kubelet API accepts (required with --listen)")
	fl.StringVar(&f.cpu, "cpu", "", "CPU capacity to advertise (default the host's CPUs)")
	fl.StringVar(&f.memory, "memory", "", "memory capacity to advertise (default the host's memory)")
	fl.StringVar(&f.reserveCPU, "reserve-cpu", "0", "CPU kept for the host, subtracted from the allocatable CPU")
	fl.StringVar(&f.reserveMem, "reserve-memory", "512Mi", "memory kept for the host, subtracted from the allocatable memory")
	fl.IntVar(&f.maxPods, "max-pods", 110, "pod limit of the node")
	fl.DurationVar(&f.reconcile, "reconcile", kubelet.DefaultReconcile, "how often VMs whose Pods are gone are removed")
	addKVMFlag(cmd, e)
	return cmd
}

func runKubelet(cmd *cobra.Command, e *env, f kubeletFlags) error {
	ctx := cmd.Context()
	if f.kubeconfig == "" {
		return usageError("--kubeconfig is required (or $KUBECONFIG)")
	}
	if f.listen != "" && f.clientCA == "" {
		return usageError(`--client-ca is required to serve the kubelet API on %s (or --listen "" to serve none)`, f.listen)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageError("--tls-cert and --tls-key go together")
	}
	node, err := kubeletNode(ctx, e, f)
	if err != nil {
		return err
	}
	rest, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return fmt.Errorf("reading kubeconfig %s: %w", f.kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", f.kubeconfig, err)
	}
	d, err := e.state()
	if err != nil {
		return err
	}
	daemon := api.NewClient(state.RuntimeDir())
	if !daemon.Available() {
		return fmt.Errorf("the kubelet runs the Pods' VMs through the daemon: %w (start it with microvm daemon)", api.ErrNoDaemon)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	records := kubelet.Records{Dir: filepath.Join(d.Root, state.KubeletDir)}
	rc := kubelet.RunConfig{
		Provider:  kubelet.Config{Host: &kubeletHost{e: e, d: d, daemon: daemon, records: records}, Records: records, Node: node, Log: log},
		Client:    client,
		Listen:    f.listen,
		Reconcile: f.reconcile,
	}
	if f.listen != "" {
		if rc.Cert, err = servingCert(f, node); err != nil {
			return err
		}
		pem, err := os.ReadFile(f.clientCA)
		if err != nil {
			return fmt.Errorf("reading --client-ca: %w", err)
		}
		rc.ClientCAs = x509.NewCertPool()
		if !rc.ClientCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--client-ca %s: no PEM certificate in it", f.clientCA)
		}
	}
	log.Info("registering node", "node", node.Name, "address", node.Address, "cpu", node.CPU.String(), "memory", node.Memory.String(), "hypervisors", node.Hypervisors, "kvm", node.KVM)
	return kubelet.Run(ctx, rc)
}

// servingCert is --tls-cert's, or a self-signed one for the node.
func servingCert(f kubeletFlags, node kubelet.NodeConfig) (tls.Certificate, error) {
	if f.tlsCert != "" {
		c, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return c, fmt.Errorf("loading --tls-cert: %w", err)
		}
		return c, nil
	}
	return kubelet.SelfSigned(node.Name, node.Address)
}

// quantityFlag parses a resource quantity flag; "" is fallback.
func quantityFlag(name, v string, fallback resource.Quantity) (resource.Quantity, error) {
	if v == "" {
		return fallback, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return q, usageError("--%s %q: expected a quantity such as 2, 500m, 4Gi", name, v)
	}
	return q, nil
}
