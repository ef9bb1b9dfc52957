package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Node server settings.
const (
	// workers is how many Pods the pod controller handles at once; a
	// create waits on the daemon, a delete on a guest's shutdown.
	workers = 8
	// DefaultReconcile is how often Reconcile runs after the first.
	DefaultReconcile = time.Minute
)

// RunConfig configures Run.
type RunConfig struct {
	Provider Config // its Events are set by Run
	Client   kubernetes.Interface
	// Listen is the kubelet API's address (kubectl logs reaches the node
	// there through the API server); "" serves none.
	Listen string
	// Cert is the API's serving certificate; ClientCAs are the CAs whose
	// client certificates may call it (the API server's kubelet client
	// certificate): the console logs are not for anyone who can connect.
	Cert      tls.Certificate
	ClientCAs *x509.CertPool
	// Reconcile is how often Reconcile runs; DefaultReconcile when 0.
	Reconcile time.Duration
	// Ready, when set, is called once the node is registered and ready.
	Ready func()
}

// Run registers the node and runs the provider until ctx ends: the node
// controller keeps the node's status and lease current, the pod
// controller hands this node's Pods to the provider, and Reconcile runs
// once the Pods are known and then periodically.
func Run(ctx context.Context, rc RunConfig) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	broadcaster := record.NewBroadcaster()
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: rc.Client.CoreV1().Events("")})
	rc.Provider.Events = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "microvm-kubelet", Host: rc.Provider.Node.Name})
	p, err := New(ctx, rc.Provider)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	opts := []nodeutil.NodeOpt{
		nodeutil.WithClient(rc.Client),
		func(c *nodeutil.NodeConfig) error {
			c.NodeSpec = *rc.Provider.Node.Node()
			c.EventRecorder = rc.Provider.Events
			c.NumWorkers = workers
			c.InformerResyncPeriod = time.Minute
			c.HTTPListenAddr = rc.Listen
			if rc.Listen != "" {
				c.Handler = mux
				c.TLSConfig = &tls.Config{
					MinVersion:   tls.VersionTLS12,
					Certificates: []tls.Certificate{rc.Cert},
					ClientAuth:   tls.RequireAndVerifyClientCert,
					ClientCAs:    rc.ClientCAs,
				}
			} else {
				c.HTTPListenAddr = ":0" // checked, never listened on
			}
			return nil
		},
	}
	if rc.Listen != "" {
		opts = append(opts, nodeutil.AttachProviderRoutes(mux))
	}
	n, err := nodeutil.NewNode(rc.Provider.Node.Name, func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		p.SetPodLister(pc.Pods)
		return p, nil, nil
	}, opts...)
	if err != nil {
		return fmt.Errorf("setting up node %q: %w", rc.Provider.Node.Name, err)
	}
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-n.Ready():
		}
		rc.Provider.Log.Info("node ready", "node", rc.Provider.Node.Name)
		if rc.Ready != nil {
			rc.Ready()
		}
		every := rc.Reconcile
		if every <= 0 {
			every = DefaultReconcile
		}
		for {
			if err := p.Reconcile(ctx); err != nil && ctx.Err() == nil {
				rc.Provider.Log.Warn("reconciling", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
	err = n.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
