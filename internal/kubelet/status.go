package kubelet

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/microvm-host/microvm/internal/supervisor"
)

// Container waiting reasons, as the kubelet's where they mean the same.
const (
	reasonCreating   = "ContainerCreating"
	reasonRestarting = "Restarting"
	reasonVMFailed   = "VMFailed"
)

// progress is how far the provider got with a Pod that has no VM yet:
// creating (Reason reasonCreating), retrying after a failed create (the
// error's reason), or refused for good (Refused).
type progress struct {
	Reason, Message string
	Refused         bool
}

// PodStatus is the status of the Pod of rec: from its VM's status when
// the VM exists (vm non-nil), from the provider's progress otherwise.
func PodStatus(rec Record, vm *VM, p progress) corev1.PodStatus {
	pod := rec.Pod
	started := metav1.NewTime(rec.Accepted)
	st := corev1.PodStatus{Phase: corev1.PodPending, StartTime: &started, HostIP: pod.Status.HostIP}
	var ctr corev1.ContainerStatus
	if len(pod.Spec.Containers) > 0 {
		ctr = corev1.ContainerStatus{Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image}
	}
	switch {
	case vm == nil && p.Refused:
		st.Phase, st.Reason, st.Message = corev1.PodFailed, p.Reason, p.Message
		ctr.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: p.Reason, Message: p.Message}
	case vm == nil:
		ctr.State.Waiting = &corev1.ContainerStateWaiting{Reason: orDefault(p.Reason, reasonCreating), Message: p.Message}
	default:
		vmState(&st, &ctr, vm.Status)
	}
	st.ContainerStatuses = []corev1.ContainerStatus{ctr}
	st.Conditions = conditions(rec.Accepted, ctr.Ready)
	if len(pod.Spec.Containers) == 0 {
		st.ContainerStatuses = nil
	}
	return st
}

// vmState fills the phase and the container's state from the VM's.
func vmState(st *corev1.PodStatus, ctr *corev1.ContainerStatus, s supervisor.Status) {
	ctr.RestartCount = int32(s.Restarts)
	ctr.ContainerID = "microvm://" + s.Name
	since := metav1.NewTime(s.Since)
	switch {
	case s.State == supervisor.Running || s.State == supervisor.Stopping:
		st.Phase = corev1.PodRunning
		ctr.State.Running = &corev1.ContainerStateRunning{StartedAt: since}
		ctr.Ready, ctr.Started = true, ptr(true)
	case s.State == supervisor.Failed || s.State == supervisor.Broken:
		st.Phase, st.Reason, st.Message = corev1.PodFailed, reasonVMFailed, s.LastExit
		ctr.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: exitCode(s.Exit, 1), Reason: reasonVMFailed, Message: s.LastExit, FinishedAt: since}
	case s.Wanted && s.Restarts > 0:
		// The daemon's restart policy brings it back.
		st.Phase = corev1.PodRunning
		ctr.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonRestarting, Message: s.LastExit}
	case s.Wanted || s.Exit == nil:
		ctr.State.Waiting = &corev1.ContainerStateWaiting{Reason: reasonCreating}
	default:
		// It stopped by itself and nothing restarts it: the process's
		// exit status decides, as a container's would.
		code := exitCode(s.Exit, 0)
		st.Phase = corev1.PodSucceeded
		reason := "Completed"
		if code != 0 || !s.Exit.Clean() {
			st.Phase, reason = corev1.PodFailed, "Error"
			if code == 0 {
				code = 1
			}
		}
		ctr.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: s.LastExit, FinishedAt: since}
	}
}

// exitCode is the image's process's exit status, else the run's, else
// fallback.
func exitCode(o *supervisor.Outcome, fallback int32) int32 {
	switch {
	case o == nil:
		return fallback
	case o.Process != nil:
		return int32(*o.Process)
	case o.Code != nil:
		return int32(*o.Code)
	}
	return fallback
}

// conditions are the Pod's; their transition time is when the provider
// accepted it, so that an unchanged status compares equal.
func conditions(since time.Time, ready bool) []corev1.PodCondition {
	now := metav1.NewTime(since)
	c := func(t corev1.PodConditionType, ok bool) corev1.PodCondition {
		s := corev1.ConditionFalse
		if ok {
			s = corev1.ConditionTrue
		}
		return corev1.PodCondition{Type: t, Status: s, LastTransitionTime: now}
	}
	return []corev1.PodCondition{
		c(corev1.PodScheduled, true),
		c(corev1.PodInitialized, true),
		c(corev1.ContainersReady, ready),
		c(corev1.PodReady, ready),
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func ptr[T any](v T) *T { return &v }
