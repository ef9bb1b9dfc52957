package kubetest

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/microvm-host/microvm/internal/kubelet"
	"github.com/microvm-host/microvm/internal/supervisor"
)

const ns = "default"

// stubGrace is the Pods' grace period: virtual-kubelet deletes a Pod
// from the API only that long after it asked the provider to.
const stubGrace = 5 * time.Second

// cluster is the control plane and the three hosts.
type cluster struct {
	client *kubernetes.Clientset
	hosts  []*host
	stub   string // the stub runner's directory
	net    *network
	cp     []*proc
}

func (c *cluster) host(node string) *host {
	for _, h := range c.hosts {
		if h.name == node {
			return h
		}
	}
	return nil
}

// logs is everything's log tail, for failures.
func (c *cluster) logs() string {
	var b strings.Builder
	for _, p := range c.cp[2:] {
		b.WriteString(p.logTail() + "\n")
	}
	for _, h := range c.hosts {
		b.WriteString(h.logs())
	}
	return b.String()
}

// TestKube brings up the cluster and runs the scenarios of issue 12 in
// order: each builds on the cluster the previous one left.
func TestKube(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, and hosts whose daemons run VMs")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) for the network namespaces")
	}
	bin := buildControlPlane(t)
	start := time.Now()
	c := &cluster{net: newNetwork(t, 3), stub: stubRunner(t)}
	p := newPKI(t, t.TempDir())
	c.client, c.cp = controlPlane(t, bin, c.net, p)
	t.Logf("control plane ready after %s", time.Since(start).Round(100*time.Millisecond))
	startRegistry(t, c.net)
	var initEnv []string
	guests := canBootGuest()
	if guests {
		initEnv = buildInit(t)
	}
	// host3 has room for 2 Pods.
	for i, maxPods := range []int{40, 40, 2} {
		h := newHost(t, i+1, c.net.hosts[i], p, maxPods, initEnv)
		h.start(t)
		c.hosts = append(c.hosts, h)
	}
	c.waitNodes(t, 3, 2*time.Minute)
	t.Logf("3 nodes ready after %s", time.Since(start).Round(100*time.Millisecond))

	steps := []struct {
		name string
		f    func(*testing.T, *cluster)
	}{
		{"node", testNode},
		{"bad-pods", testBadPods},
		{"deployment", testDeployment},
		{"scale-down", testScaleDown},
		{"logs", func(t *testing.T, c *cluster) {
			if !guests {
				t.Skip("needs qemu-system-x86_64, busybox-static and a kernel with modules in /boot")
			}
			testLogs(t, c)
		}},
		{"host-loss", testHostLoss},
		{"host-returns", testHostReturns},
		{"thirty-pods", testThirtyPods},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.f(t, c) }) {
			t.Logf("logs:\n%s", c.logs())
			return
		}
	}
}

// waitFor polls cond every half second until it holds, or fails the
// test after timeout with cond's last word.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, msg := cond()
		if ok {
			return time.Since(start)
		}
		if msg != last {
			last = msg
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not after %s: %s", what, timeout, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitNodes waits for want Ready nodes.
func (c *cluster) waitNodes(t *testing.T, want int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d ready nodes", want), func() (bool, string) {
		nodes, err := c.client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeReady(&n) {
				ready++
			}
		}
		return ready == want, fmt.Sprintf("%d of %d nodes ready\n%s", ready, len(nodes.Items), c.logs())
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// vmPodSpec is a Pod that becomes a VM: it tolerates the node taint,
// is evicted 2 s after its node becomes unreachable, and its guest has
// 5 s to shut down.
func vmPodSpec(image string, annotations map[string]string) corev1.PodTemplateSpec {
	two, grace := int64(2), int64(stubGrace/time.Second)
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "vm", Image: image, Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			}}},
			Tolerations: []corev1.Toleration{
				{Key: kubelet.TaintKey, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &two},
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &two},
			},
		},
	}
}

// stubPod is a VM Pod of the stub runner.
func (c *cluster) stubPod() corev1.PodTemplateSpec {
	return vmPodSpec("microvm.dev/stub:1", map[string]string{kubelet.AnnotationRunner: c.stub})
}

func deployment(name string, replicas int32, tmpl corev1.PodTemplateSpec) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	tmpl.Labels = labels
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: tmpl,
		},
	}
}

// pods are the app's Pods, live (not being deleted) ones apart.
func (c *cluster) pods(t *testing.T, app string) (live, deleting []corev1.Pod) {
	t.Helper()
	list, err := c.client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + app})
	check(t, err)
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			deleting = append(deleting, p)
		} else {
			live = append(live, p)
		}
	}
	return live, deleting
}

// vmsOf are the provider's VMs on every host, by host name; a host that
// does not answer has none.
func (c *cluster) vmsOf(t *testing.T) map[string]map[string]supervisor.Status {
	out := map[string]map[string]supervisor.Status{}
	for _, h := range c.hosts {
		vms, err := h.vms(t.Context())
		if err != nil {
			vms = nil
		}
		out[h.name] = vms
	}
	return out
}

// runningExactlyOnce checks that the app has want live Pods, each
// Running, and that each Pod's VM runs on its node and nowhere else,
// with no other VM of the provider running anywhere.
func (c *cluster) runningExactlyOnce(t *testing.T, app string, want int) (bool, string) {
	live, deleting := c.pods(t, app)
	if len(live) != want || len(deleting) > 0 {
		return false, fmt.Sprintf("%d live pods, %d being deleted; want %d", len(live), len(deleting), want)
	}
	vms := c.vmsOf(t)
	expected := map[string]string{} // VM -> host
	for _, p := range live {
		if p.Status.Phase != corev1.PodRunning {
			return false, fmt.Sprintf("pod %s on %q is %s: %s %s", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Reason, p.Status.Message)
		}
		expected[kubelet.VMName(&p)] = p.Spec.NodeName
	}
	runningVMs := 0
	for hostName, hv := range vms {
		for name, s := range hv {
			if !running(s) {
				continue
			}
			runningVMs++
			if expected[name] != hostName {
				return false, fmt.Sprintf("VM %s runs on %s; its pod is on %q", name, hostName, expected[name])
			}
		}
	}
	for vm, node := range expected {
		if s, ok := vms[node][vm]; !ok || !running(s) {
			return false, fmt.Sprintf("VM %s of a running pod does not run on %s (%+v)", vm, node, s)
		}
	}
	if runningVMs != want {
		return false, fmt.Sprintf("%d VMs run; want %d", runningVMs, want)
	}
	return true, ""
}

func testNode(t *testing.T, c *cluster) {
	n, err := c.client.CoreV1().Nodes().Get(t.Context(), "host3", metav1.GetOptions{})
	check(t, err)
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0].Key != kubelet.TaintKey || n.Spec.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("taints %+v", n.Spec.Taints)
	}
	if pods := n.Status.Allocatable[corev1.ResourcePods]; pods.Value() != 2 {
		t.Errorf("allocatable pods %s; want 2", pods.String())
	}
	if n.Labels[kubelet.LabelKVM] != "false" || n.Labels["kubernetes.io/arch"] == "" {
		t.Errorf("labels %v", n.Labels)
	}
	if canBootGuest() && n.Labels[kubelet.LabelHypervisorPrefix+"qemu"] != "true" {
		t.Errorf("labels %v; want qemu", n.Labels)
	}
	if len(n.Status.Addresses) == 0 || n.Status.Addresses[0].Address != hostAddr(3) {
		t.Errorf("addresses %+v", n.Status.Addresses)
	}
}

// testBadPods: each bad Pod gets a clear event and leaves no VM.
func testBadPods(t *testing.T, c *cluster) {
	ctx := t.Context()
	bad := []struct {
		name, reason, message string
		tmpl                  corev1.PodTemplateSpec
	}{
		{"bad-hypervisor", "InvalidAnnotation", `annotation microvm.dev/hypervisor "vmware"`,
			vmPodSpec("microvm.dev/x:1", map[string]string{kubelet.AnnotationHypervisor: "vmware"})},
		{"bad-image", kubelet.EventCreateFailed, "nope",
			vmPodSpec(registryAddr+"/nope:1", nil)},
		{"bad-name", "InvalidName", `invalid VM name "-vm"`,
			vmPodSpec("microvm.dev/x:1", map[string]string{kubelet.AnnotationName: "-vm"})},
		{"too-big", "FailedScheduling", "Insufficient memory", func() corev1.PodTemplateSpec {
			s := vmPodSpec("microvm.dev/x:1", nil)
			s.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("100Ti")
			return s
		}()},
	}
	for _, b := range bad {
		pod := &corev1.Pod{ObjectMeta: b.tmpl.ObjectMeta, Spec: b.tmpl.Spec}
		pod.Name = b.name
		if _, err := c.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s: %v", b.name, err)
		}
	}
	// A name Kubernetes itself refuses never reaches a node.
	if _, err := c.client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}, Spec: vmPodSpec("x", nil).Spec}, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "Invalid value") {
		t.Errorf("creating a pod named Bad_Name: %v; want invalid", err)
	}
	for _, b := range bad {
		waitFor(t, 90*time.Second, "event on pod "+b.name, func() (bool, string) {
			evs, err := c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", b.name).String()})
			if err != nil {
				return false, err.Error()
			}
			var seen []string
			for _, e := range evs.Items {
				if e.Type == corev1.EventTypeWarning && e.Reason == b.reason && strings.Contains(e.Message, b.message) {
					t.Logf("pod %s: event %s: %s", b.name, e.Reason, e.Message)
					return true, ""
				}
				seen = append(seen, e.Reason+": "+e.Message)
			}
			return false, fmt.Sprintf("events %q; want a warning %s with %q", seen, b.reason, b.message)
		})
	}
	for hostName, vms := range c.vmsOf(t) {
		if len(vms) != 0 {
			t.Errorf("%s has VMs %v; want none for bad pods", hostName, vms)
		}
	}
	for _, b := range bad {
		zero := int64(0)
		check(t, c.client.CoreV1().Pods(ns).Delete(ctx, b.name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
	}
}

// testDeployment (scenario 1): 6 replicas spread over the three nodes,
// host3 holding at most its 2, every VM running on its node.
func testDeployment(t *testing.T, c *cluster) {
	start := time.Now()
	_, err := c.client.AppsV1().Deployments(ns).Create(t.Context(), deployment("stubs", 6, c.stubPod()), metav1.CreateOptions{})
	check(t, err)
	took := waitFor(t, 3*time.Minute, "6 replicas running once each", func() (bool, string) { return c.runningExactlyOnce(t, "stubs", 6) })
	t.Logf("6 stub pods running after %s", took.Round(100*time.Millisecond))
	live, _ := c.pods(t, "stubs")
	perNode := map[string]int{}
	for _, p := range live {
		perNode[p.Spec.NodeName]++
	}
	t.Logf("pods per node: %v (%s)", perNode, time.Since(start).Round(time.Second))
	if perNode["host3"] > 2 {
		t.Errorf("host3 holds %d pods; its limit is 2", perNode["host3"])
	}
	if len(perNode) != 3 {
		t.Errorf("pods on %d nodes (%v); want all three", len(perNode), perNode)
	}
}

// testScaleDown (scenario 3): scaling to 3 stops 3 VMs gracefully.
func testScaleDown(t *testing.T, c *cluster) {
	ctx := t.Context()
	before, _ := c.pods(t, "stubs")
	s, err := c.client.AppsV1().Deployments(ns).GetScale(ctx, "stubs", metav1.GetOptions{})
	check(t, err)
	s.Spec.Replicas = 3
	_, err = c.client.AppsV1().Deployments(ns).UpdateScale(ctx, "stubs", s, metav1.UpdateOptions{})
	check(t, err)
	took := waitFor(t, 2*time.Minute, "3 replicas running once each", func() (bool, string) { return c.runningExactlyOnce(t, "stubs", 3) })
	t.Logf("scaled down to 3 in %s", took.Round(100*time.Millisecond))
	after, _ := c.pods(t, "stubs")
	kept := map[string]bool{}
	for _, p := range after {
		kept[p.Name] = true
	}
	stopped := 0
	for _, p := range before {
		if kept[p.Name] {
			continue
		}
		// The provider says how it stopped the VM: within the grace period.
		evs, err := c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", p.Name).String()})
		check(t, err)
		for _, e := range evs.Items {
			if e.Reason == kubelet.EventStopped && strings.Contains(e.Message, "grace period "+stubGrace.String()) {
				stopped++
			}
		}
	}
	if stopped != 3 {
		t.Errorf("%d stop events with the grace period; want 3", stopped)
	}
	for hostName, vms := range c.vmsOf(t) {
		for name, s := range vms {
			if !running(s) {
				t.Errorf("%s keeps the stopped VM %s (%s); want it removed", hostName, name, s.State)
			}
		}
	}
}

// testLogs (scenario 2): the real TCG VM's console through kubectl's
// path: client-go, the API server, the node's kubelet API. The Pod's
// command, args, env (one from the downward API) and workingDir replace
// the image's own process, as for a container.
func testLogs(t *testing.T, c *cluster) {
	ctx := t.Context()
	image := pushImage(t, c.net, "hello", "sh", "-c", "echo the image default")
	tmpl := vmPodSpec(image, nil)
	ctr := &tmpl.Spec.Containers[0]
	ctr.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("256Mi")}
	ctr.Command = []string{"sh", "-c"}
	// $(GREETING) is the kubelet's expansion, $(pwd) the shell's.
	ctr.Args = []string{`echo "hello from $(GREETING) $POD in $(pwd)"; trap "echo bye; exit 0" TERM; while :; do sleep 1; done`}
	ctr.Env = []corev1.EnvVar{
		{Name: "GREETING", Value: "a pod"},
		{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}
	ctr.WorkingDir = "/srv"
	const want = "hello from a pod hello in /srv"
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hello"}, Spec: tmpl.Spec}
	start := time.Now()
	_, err := c.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	check(t, err)
	var logs string
	waitFor(t, 3*time.Minute, "the VM's output in kubectl logs", func() (bool, string) {
		p, err := c.client.CoreV1().Pods(ns).Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if p.Status.Phase != corev1.PodRunning {
			return false, fmt.Sprintf("pod %s: %s %s", p.Status.Phase, p.Status.Reason, p.Status.Message)
		}
		rc, err := c.client.CoreV1().Pods(ns).GetLogs("hello", &corev1.PodLogOptions{}).Stream(ctx)
		if err != nil {
			return false, "logs: " + err.Error()
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		logs = string(b)
		return strings.Contains(logs, want), "logs so far:\n" + tail(logs, 10)
	})
	t.Logf("real VM's output in kubectl logs after %s", time.Since(start).Round(100*time.Millisecond))
	tl := int64(1)
	rc, err := c.client.CoreV1().Pods(ns).GetLogs("hello", &corev1.PodLogOptions{TailLines: &tl}).Stream(ctx)
	check(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	if n := strings.Count(string(b), "\n"); n > 1 {
		t.Errorf("tailLines 1 gave %d lines", n)
	}
	// Deleting the Pod powers the guest off: the process gets SIGTERM.
	check(t, c.client.CoreV1().Pods(ns).Delete(ctx, "hello", metav1.DeleteOptions{}))
	waitFor(t, 2*time.Minute, "the real VM removed", func() (bool, string) {
		if _, err := c.client.CoreV1().Pods(ns).Get(ctx, "hello", metav1.GetOptions{}); err == nil {
			return false, "the pod still exists"
		}
		for hostName, vms := range c.vmsOf(t) {
			for name := range vms {
				if strings.HasPrefix(name, "default-hello-") {
					return false, "its VM is still on " + hostName
				}
			}
		}
		return true, ""
	})
}

// lost is the host testHostLoss killed, for testHostReturns.
var lost *host

// testHostLoss (scenario 4): kill -9 a host; its node goes NotReady,
// its Pods are evicted and replaced on the others.
func testHostLoss(t *testing.T, c *cluster) {
	ctx := t.Context()
	live, _ := c.pods(t, "stubs")
	perNode := map[string]int{}
	for _, p := range live {
		perNode[p.Spec.NodeName]++
	}
	// The host with the most replicas, host3 (room for 2) aside.
	var names []string
	for n := range perNode {
		if n != "host3" {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return perNode[names[i]] > perNode[names[j]] })
	if len(names) == 0 {
		t.Fatalf("no replica outside host3: %v", perNode)
	}
	lost = c.host(names[0])
	// A VM made by hand on the host, which the provider must never touch.
	check(t, runMicrovm(lost, "create", "byhand", "-f", c.stub))
	check(t, runMicrovm(lost, "start", "byhand"))

	start := time.Now()
	lost.kill(t)
	t.Logf("killed %s with %d replicas", lost.name, perNode[lost.name])
	notReady := waitFor(t, 2*time.Minute, lost.name+" NotReady", func() (bool, string) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, lost.name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return !nodeReady(n), "still ready"
	})
	recovered := waitFor(t, 3*time.Minute, "3 replicas running on the other nodes", func() (bool, string) {
		live, _ := c.pods(t, "stubs")
		running := 0
		for _, p := range live {
			if p.Spec.NodeName != lost.name && p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 3, fmt.Sprintf("%d replicas running elsewhere", running)
	})
	t.Logf("RESULT host loss: NotReady after %s, 3 replicas running on the other nodes %s after the kill",
		notReady.Round(100*time.Millisecond), (recovered + notReady).Round(100*time.Millisecond))
	_ = start
}

// testHostReturns (scenario 5): the lost host comes back, stops the VMs
// of its deleted Pods and keeps no duplicate; the hand-made VM stays.
func testHostReturns(t *testing.T, c *cluster) {
	if lost == nil {
		t.Skip("no host was lost")
	}
	start := time.Now()
	lost.start(t)
	c.waitNodes(t, 3, 2*time.Minute)
	took := waitFor(t, 2*time.Minute, "each replica running exactly once", func() (bool, string) {
		ok, msg := c.runningExactlyOnce(t, "stubs", 3)
		if !ok {
			return false, msg
		}
		vms, err := lost.vms(t.Context())
		if err != nil {
			return false, err.Error()
		}
		live, _ := c.pods(t, "stubs")
		mine := 0
		for _, p := range live {
			if p.Spec.NodeName == lost.name {
				mine++
			}
		}
		return len(vms) == mine, fmt.Sprintf("%s keeps %d VMs for %d pods: %v", lost.name, len(vms), mine, vms)
	})
	t.Logf("RESULT the lost host reconciled %s after its return (%s in all)", took.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	d, err := os.Stat(lost.stateDir() + "/byhand")
	if err != nil || !d.IsDir() {
		t.Errorf("the VM made by hand is gone from %s: %v", lost.name, err)
	}
}

// testThirtyPods measures the time to schedule and run 30 stub-VM Pods
// across the three nodes (host3 takes 2 at most).
func testThirtyPods(t *testing.T, c *cluster) {
	ctx := t.Context()
	zero := int32(0)
	s, err := c.client.AppsV1().Deployments(ns).GetScale(ctx, "stubs", metav1.GetOptions{})
	check(t, err)
	s.Spec.Replicas = zero
	_, err = c.client.AppsV1().Deployments(ns).UpdateScale(ctx, "stubs", s, metav1.UpdateOptions{})
	check(t, err)
	waitFor(t, 2*time.Minute, "stubs scaled to 0", func() (bool, string) { return c.runningExactlyOnce(t, "stubs", 0) })
	start := time.Now()
	_, err = c.client.AppsV1().Deployments(ns).Create(ctx, deployment("thirty", 30, c.stubPod()), metav1.CreateOptions{})
	check(t, err)
	took := waitFor(t, 5*time.Minute, "30 replicas running once each", func() (bool, string) { return c.runningExactlyOnce(t, "thirty", 30) })
	live, _ := c.pods(t, "thirty")
	perNode := map[string]int{}
	for _, p := range live {
		perNode[p.Spec.NodeName]++
	}
	t.Logf("RESULT 30 stub-VM pods scheduled and running across 3 nodes in %s: %v", took.Round(100*time.Millisecond), perNode)
	if perNode["host3"] > 2 {
		t.Errorf("host3 holds %d pods; its limit is 2", perNode["host3"])
	}
	_ = start
	check(t, c.client.AppsV1().Deployments(ns).Delete(ctx, "thirty", metav1.DeleteOptions{}))
	took = waitFor(t, 3*time.Minute, "30 VMs removed", func() (bool, string) {
		n := 0
		for _, h := range c.hosts {
			vms, err := h.vms(t.Context())
			if err != nil {
				return false, h.name + ": " + err.Error()
			}
			n += len(vms)
		}
		return n == 0, fmt.Sprintf("%d VMs left", n)
	})
	t.Logf("RESULT 30 stub-VM pods deleted, their VMs stopped and removed in %s", took.Round(100*time.Millisecond))
}

// runMicrovm runs the microvm command as host h.
func runMicrovm(h *host, args ...string) error {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.ns, h.microvm}, args...)...)
	cmd.Env = append(os.Environ(), h.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("microvm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}
