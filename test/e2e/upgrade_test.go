//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// runningPod is what an upgrade must not change in an open election's pod.
type runningPod struct {
	uid      string
	image    string
	restarts int32
}

// votingPods maps the voting pods of ns (not being deleted) to their identity,
// image and restart count.
func votingPods(t *testing.T, ns string) map[string]runningPod {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=voting-runtime"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]runningPod{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		rp := runningPod{uid: string(p.UID), image: p.Spec.Containers[0].Image}
		for _, s := range p.Status.ContainerStatuses {
			rp.restarts += s.RestartCount
		}
		out[p.Name] = rp
	}
	return out
}

// waitManagerRolledOut waits until the manager's Deployment runs its current
// template only, all its replicas available.
func waitManagerRolledOut(t *testing.T, timeout time.Duration) {
	t.Helper()
	waitFor(t, "the manager's rollout", timeout, func() (bool, error) {
		d, err := kube.AppsV1().Deployments(managerNamespace).Get(context.Background(), "scrutin-manager", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want,
			fmt.Errorf("generation %d observed %d; replicas %d, updated %d, available %d of %d",
				d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.AvailableReplicas, want)
	})
}

// TestManagerUpgradeOnTheCluster: the manager is upgraded to a new runtime image
// (a new tag in the node's containerd, the manager's --runtime-image naming it)
// while one election is Open, a voter signed in and another having voted, and
// another is Scheduled. The open election's pods are the same pods afterwards
// (same UIDs, no restart, the old image), its status names the held-back image
// (RuntimeUpToDate False, UpgradeHeldWhileOpen) and the voter who signed in before
// the upgrade casts with the same session; the scheduled election's Deployment
// moves to the new image and its pods run it.
func TestManagerUpgradeOnTheCluster(t *testing.T) {
	const openNS, schedNS = "e2e-upgrade-open", "e2e-upgrade-scheduled"
	congress(t, openNS, 10, 2, 2, 45*time.Second, 30*time.Minute)
	congress(t, schedNS, 10, 1, 1, 2*time.Hour, time.Hour)

	open := waitPhase(t, openNS, "congress", scrutinv1.PhaseOpen, 3*time.Minute)
	waitFor(t, "the open election's two voting pods Ready", 2*time.Minute, func() (bool, error) {
		n := readyPods(t, open.Status.Namespace)
		return n == 2, fmt.Errorf("%d Ready", n)
	})
	sched := waitPhase(t, schedNS, "congress", scrutinv1.PhaseScheduled, 2*time.Minute)
	waitFor(t, "the scheduled election's voting pod Ready", 2*time.Minute, func() (bool, error) {
		n := readyPods(t, sched.Status.Namespace)
		return n == 1, fmt.Errorf("%d Ready", n)
	})
	oldImage := ""
	for _, e := range []*scrutinv1.Election{open, sched} {
		e = election(t, e.Namespace, e.Name)
		if e.Status.Runtime == nil || e.Status.Runtime.Image == "" || e.Status.Runtime.PendingImage != "" {
			t.Fatalf("%s: status.runtime %+v before the upgrade", e.Namespace, e.Status.Runtime)
		}
		if oldImage == "" {
			oldImage = e.Status.Runtime.Image
		} else if e.Status.Runtime.Image != oldImage {
			t.Fatalf("the elections run %s and %s before the upgrade", oldImage, e.Status.Runtime.Image)
		}
	}

	// One voter signs in and waits; another votes.
	url := ingressURL(t, open.Status.Namespace)
	ctx := t.Context()
	waiting, voted := newVoter(url, 1), newVoter(url, 2)
	for _, v := range []*voter{waiting, voted} {
		if err := v.signIn(ctx); err != nil {
			t.Fatalf("%s: %v", v.id, err)
		}
	}
	if _, _, err := voted.cast(ctx); err != nil {
		t.Fatalf("%s: %v", voted.id, err)
	}
	before := votingPods(t, open.Status.Namespace)
	if len(before) != 2 {
		t.Fatalf("the open election's pods before the upgrade: %+v", before)
	}

	// The upgrade, and the manager back to its image at the end (once the test's
	// manager is gone: its restored successor sees the tenants' deletion).
	t.Cleanup(func() { waitManagerRolledOut(t, 3*time.Minute) })
	newImage := upgradeRuntime(t)
	waitManagerRolledOut(t, 3*time.Minute)
	t.Logf("the manager rolled out with --runtime-image=%s (was %s)", newImage, oldImage)

	// The scheduled election moves to the new image, pods included.
	waitFor(t, "the scheduled election on "+newImage, 3*time.Minute, func() (bool, error) {
		e := election(t, schedNS, "congress")
		c := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionRuntimeUpToDate)
		pods := votingPods(t, sched.Status.Namespace)
		onNew := 0
		for _, p := range pods {
			if p.image == newImage {
				onNew++
			}
		}
		ok := e.Status.Runtime != nil && e.Status.Runtime.Image == newImage && e.Status.Runtime.PendingImage == "" &&
			c != nil && c.Status == metav1.ConditionTrue && len(pods) == 1 && onNew == 1 && readyPods(t, sched.Status.Namespace) == 1
		return ok, fmt.Errorf("status.runtime %+v, RuntimeUpToDate %+v, pods %+v", e.Status.Runtime, c, pods)
	})
	d, err := kube.AppsV1().Deployments(sched.Status.Namespace).Get(ctx, specs.RuntimeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != newImage {
		t.Errorf("the scheduled election's Deployment runs %s, want %s", img, newImage)
	}

	// The open election: the new image held back, said in its status.
	var held *scrutinv1.Election
	waitFor(t, "the open election holding "+newImage+" back", 2*time.Minute, func() (bool, error) {
		held = election(t, openNS, "congress")
		c := meta.FindStatusCondition(held.Status.Conditions, scrutinv1.ConditionRuntimeUpToDate)
		ok := held.Status.Runtime != nil && held.Status.Runtime.Image == oldImage && held.Status.Runtime.PendingImage == newImage &&
			c != nil && c.Status == metav1.ConditionFalse && c.Reason == scrutinv1.ReasonUpgradeHeldWhileOpen
		return ok, fmt.Errorf("status.runtime %+v, RuntimeUpToDate %+v", held.Status.Runtime, c)
	})
	if held.Status.Phase != scrutinv1.PhaseOpen {
		t.Fatalf("the open election is %s", held.Status.Phase)
	}
	// ... its pods untouched: the same pods, never restarted, on the old image.
	after := votingPods(t, open.Status.Namespace)
	if len(after) != len(before) {
		t.Errorf("the open election's pods: %+v after the upgrade, %+v before", after, before)
	}
	for name, was := range before {
		if now, ok := after[name]; !ok || now != was {
			t.Errorf("pod %s: %+v after the upgrade, %+v before", name, now, was)
		}
	}
	d, err = kube.AppsV1().Deployments(open.Status.Namespace).Get(ctx, specs.RuntimeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != oldImage {
		t.Errorf("the open election's Deployment runs %s, want %s", img, oldImage)
	}
	if d.Status.ObservedGeneration != d.Generation || d.Status.UpdatedReplicas != 2 || d.Status.Replicas != 2 {
		t.Errorf("the open election's Deployment is rolling: %+v", d.Status)
	}
	// ... and the voter who signed in before the upgrade votes with that session.
	session := waiting.session
	receipt, already, err := waiting.cast(ctx)
	if err != nil || already || receipt == "" {
		t.Fatalf("%s, signed in before the upgrade: receipt %q, already %v: %v", waiting.id, receipt, already, err)
	}
	if waiting.session != session {
		t.Errorf("%s was given another session", waiting.id)
	}
	if !containsReason(t, openNS, scrutinv1.ReasonUpgradeHeldWhileOpen) {
		t.Errorf("no %s event in %s:\n%s", scrutinv1.ReasonUpgradeHeldWhileOpen, openNS, eventsOf(t, openNS))
	}
	// Nothing in the open election's namespace was restarted by the upgrade.
	pods, err := kube.CoreV1().Pods(open.Status.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		for _, s := range p.Status.ContainerStatuses {
			if s.RestartCount != 0 || s.State.Running == nil {
				t.Errorf("pod %s, container %s: %d restarts, state %+v", p.Name, s.Name, s.RestartCount, s.State)
			}
		}
	}
}

// containsReason says whether an event of ns has reason.
func containsReason(t *testing.T, ns, reason string) bool {
	t.Helper()
	evs, err := kube.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		if e.Reason == reason && e.Type == corev1.EventTypeNormal {
			return true
		}
	}
	return false
}
