package controllers

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestManagerUpgradeNeverTouchesAnOpenVote upgrades the manager (a new runtime
// image and a new runtime flag) while elections are at every stage: the open ones
// keep their whole pod template, one opened under a manager that kept no record of
// it too; the scheduled one moves at once; the tallied one keeps its runtime; an
// open one moves when its tenant opts in; the held one, once closed, keeps the
// runtime that took its ballots.
func TestManagerUpgradeNeverTouchesAnOpenVote(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	imageA := testOpt.RuntimeImage
	optsB := testOpt
	optsB.RuntimeImage = "scrutin.dev/voting-runtime:b"
	optsB.ClientIPHeader = "X-Forwarded-For" // a flag a newer manager adds

	held := create(t, newElection(t, ns, "held", 2*time.Second, time.Hour))
	legacy := create(t, newElection(t, ns, "legacy", 2*time.Second, time.Hour))
	optIn := create(t, newElection(t, ns, "opt-in", 2*time.Second, time.Hour))
	scheduled := create(t, newElection(t, ns, "scheduled", time.Hour, 2*time.Hour))
	tallied := create(t, newElection(t, ns, "tallied", time.Hour, time.Hour+6*time.Second))
	for _, e := range []*scrutinv1.Election{held, legacy, optIn} {
		waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	}
	waitPhase(t, scheduled, scrutinv1.PhaseScheduled, 20*time.Second)
	// the tallied election's clock runs through its window: the controller sees
	// it open (the double runtime opens only when asked), then close and count
	waitPhase(t, tallied, scrutinv1.PhaseScheduled, 20*time.Second)
	moveClock(t, tallied, tallied.Spec.Schedule.OpensAt.Time)
	waitPhase(t, tallied, scrutinv1.PhaseOpen, 20*time.Second)
	moveClock(t, tallied, tallied.Spec.Schedule.ClosesAt.Time)
	waitPhase(t, tallied, scrutinv1.PhaseTallied, 20*time.Second)

	deployment := func(e *scrutinv1.Election) *appsv1.Deployment {
		t.Helper()
		var d appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: specs.NamespaceName(getElection(t, e)), Name: specs.RuntimeName}, &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	before := map[string]*appsv1.Deployment{}
	for _, e := range []*scrutinv1.Election{held, legacy, optIn, scheduled, tallied} {
		d := deployment(e)
		if img := d.Spec.Template.Spec.Containers[0].Image; img != imageA {
			t.Fatalf("%s runs %s before the upgrade, want %s", e.Name, img, imageA)
		}
		if st := getElection(t, e).Status.Runtime; st == nil || st.Image != imageA || st.PendingImage != "" {
			t.Fatalf("%s: status.runtime %+v before the upgrade", e.Name, st)
		}
		before[e.Name] = d
	}

	// The upgrade. The legacy election's record is removed meanwhile: it stands
	// for an election provisioned by a release that kept none.
	if err := stopManager(); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: specs.NamespaceName(getElection(t, legacy)), Name: specs.RuntimeTemplateName}}); err != nil {
		t.Fatal(err)
	}
	if err := startManager(optsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { restartManager(t, testOpt) })

	waitRuntime := func(e *scrutinv1.Election, image, pending, reason string) *scrutinv1.Election {
		t.Helper()
		var cur *scrutinv1.Election
		// the restarted manager reconciles every Election the suite's API server
		// holds, those of the earlier tests too, in no particular order: on a
		// busy machine this one may come minutes after its start
		waitFor(t, fmt.Sprintf("%s to run %s (pending %q, %s)", e.Name, image, pending, reason), 3*time.Minute, func() (bool, string) {
			cur = getElection(t, e)
			c := condition(cur, scrutinv1.ConditionRuntimeUpToDate)
			st := cur.Status.Runtime
			if st == nil {
				return false, "no status.runtime"
			}
			return st.Image == image && st.PendingImage == pending && c.Reason == reason,
				fmt.Sprintf("status.runtime %+v, condition %+v", *st, c)
		})
		return cur
	}
	// the whole template unchanged, and the Deployment's spec not even rewritten
	unchanged := func(e *scrutinv1.Election) {
		t.Helper()
		d, was := deployment(e), before[e.Name]
		if !equality.Semantic.DeepEqual(d.Spec.Template, was.Spec.Template) {
			t.Errorf("%s: the pod template changed:\n%+v\nwas\n%+v", e.Name, d.Spec.Template, was.Spec.Template)
		}
		if !equality.Semantic.DeepEqual(d.Spec, was.Spec) {
			t.Errorf("%s: the Deployment's spec changed:\n%+v\nwas\n%+v", e.Name, d.Spec, was.Spec)
		}
		// A Deployment's generation also moves when its annotations change (the API
		// server copies them to its ReplicaSets). The legacy election's apply record
		// (the applied-sha256 annotation) changes once, when its live template
		// becomes the desired one; its spec, so its pods, do not.
		sameRecord := d.Annotations[AppliedSHA256Annotation] == was.Annotations[AppliedSHA256Annotation]
		if d.Generation != was.Generation && (sameRecord || e.Name != legacy.Name) {
			t.Errorf("%s: the Deployment's generation moved from %d to %d", e.Name, was.Generation, d.Generation)
		}
	}
	upgraded := func(e *scrutinv1.Election) {
		t.Helper()
		waitFor(t, e.Name+"'s Deployment on the new runtime", 3*time.Minute, func() (bool, string) {
			c := deployment(e).Spec.Template.Spec.Containers[0]
			return c.Image == optsB.RuntimeImage && slices.Contains(c.Args, "--client-ip-header=X-Forwarded-For"),
				fmt.Sprintf("image %s, args %v", c.Image, c.Args)
		})
	}

	for _, e := range []*scrutinv1.Election{held, legacy, optIn} {
		cur := waitRuntime(e, imageA, optsB.RuntimeImage, scrutinv1.ReasonUpgradeHeldWhileOpen)
		if c := condition(cur, scrutinv1.ConditionRuntimeUpToDate); c.Status != metav1.ConditionFalse || cur.Status.Runtime.PendingTemplateHash == "" {
			t.Errorf("%s: condition %+v, status.runtime %+v", e.Name, c, cur.Status.Runtime)
		}
	}
	cur := waitRuntime(scheduled, optsB.RuntimeImage, "", scrutinv1.ReasonRuntimeUpToDate)
	if c := condition(cur, scrutinv1.ConditionRuntimeUpToDate); c.Status != metav1.ConditionTrue {
		t.Errorf("scheduled: condition %+v", c)
	}
	upgraded(scheduled)
	waitRuntime(tallied, imageA, optsB.RuntimeImage, scrutinv1.ReasonKeptAfterClose)
	// a few more reconciles under the new manager change nothing
	time.Sleep(2 * time.Second)
	for _, e := range []*scrutinv1.Election{held, legacy, optIn, tallied} {
		unchanged(e)
	}
	// the manager's gauge names the held ones, and them only
	waitFor(t, "the held upgrades' gauge", 10*time.Second, func() (bool, string) {
		gaugeOf := func(e *scrutinv1.Election, reason string) float64 {
			labels := map[string]string{"election_namespace": ns, "election_name": e.Name}
			if reason != "" {
				labels["reason"] = reason
			}
			return gauge(t, "scrutin_election_runtime_upgrade_held", labels)
		}
		got := []float64{gaugeOf(held, scrutinv1.ReasonUpgradeHeldWhileOpen), gaugeOf(legacy, scrutinv1.ReasonUpgradeHeldWhileOpen),
			gaugeOf(tallied, scrutinv1.ReasonKeptAfterClose), gaugeOf(scheduled, "")}
		return slices.Equal(got, []float64{1, 1, 1, 0}), fmt.Sprintf("held, legacy, tallied, scheduled: %v", got)
	})
	waitFor(t, "events saying what was held and what was applied", 10*time.Second, func() (bool, string) {
		h, s := eventReasons(t, held), eventReasons(t, scheduled)
		return slices.Contains(h, scrutinv1.ReasonUpgradeHeldWhileOpen) && slices.Contains(s, scrutinv1.ReasonRuntimeUpgraded),
			fmt.Sprintf("held: %v, scheduled: %v", h, s)
	})

	// The tenant of opt-in opts in: its open vote moves to the new runtime.
	updateElection(t, optIn, func(cur *scrutinv1.Election) {
		cur.Spec.Runtime = &scrutinv1.RuntimeSpec{UpgradePolicy: scrutinv1.UpgradeImmediate}
	})
	waitRuntime(optIn, optsB.RuntimeImage, "", scrutinv1.ReasonRuntimeUpToDate)
	upgraded(optIn)

	// The held one closes: it is counted, and keeps serving its results, on the
	// runtime that took its ballots.
	updateElection(t, held, func(cur *scrutinv1.Election) {
		cur.Spec.Schedule.ClosesAt = metav1.NewTime(time.Now().Add(time.Second).Truncate(time.Second).Add(time.Second))
	})
	waitPhase(t, held, scrutinv1.PhaseTallied, 20*time.Second)
	waitRuntime(held, imageA, optsB.RuntimeImage, scrutinv1.ReasonKeptAfterClose)
	unchanged(held)
	unchanged(legacy)
}
