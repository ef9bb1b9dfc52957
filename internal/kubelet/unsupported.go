package kubelet

import (
	"context"
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// What a VM Pod does not offer yet (README, "Running a fleet on
// Kubernetes"): each says so to the client rather than failing
// obscurely.

// RunInContainer is kubectl exec: not supported.
func (p *Provider) RunInContainer(ctx context.Context, namespace, podName, containerName string, cmd []string, attach api.AttachIO) error {
	return errdefs.InvalidInput("exec is not supported by microvm pods: use the VM's console on its host (microvm console)")
}

// AttachToContainer is kubectl attach: not supported.
func (p *Provider) AttachToContainer(ctx context.Context, namespace, podName, containerName string, attach api.AttachIO) error {
	return errdefs.InvalidInput("attach is not supported by microvm pods: use the VM's console on its host (microvm console)")
}

// PortForward is kubectl port-forward: not supported.
func (p *Provider) PortForward(ctx context.Context, namespace, pod string, port int32, stream io.ReadWriteCloser) error {
	return errdefs.InvalidInput("port-forward is not supported by microvm pods")
}

// GetStatsSummary is the kubelet's stats: not supported.
func (p *Provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return nil, errdefs.InvalidInput("stats are not supported by microvm nodes: see microvm metrics")
}

// GetMetricsResource is the kubelet's resource metrics: none yet.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}
