package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

// TestScheduleMovesDoNotRollPods: extend, close and open move spec.schedule (and
// bump the generation): the pods' config hash stays, while the election file the
// pods re-read carries the new schedule and its version.
func TestScheduleMovesDoNotRollPods(t *testing.T) {
	e := testElection("t", "v", "u")
	in := testInputs(e)
	h := specstest.PodsConfigHash(t, &in.Inputs)
	e.Spec.Schedule.ClosesAt = metav1.NewTime(e.Spec.Schedule.ClosesAt.Add(time.Hour))
	e.Spec.Schedule.OpensAt = metav1.NewTime(e.Spec.Schedule.OpensAt.Add(-time.Hour))
	e.Generation = 5
	if h2 := specstest.PodsConfigHash(t, &in.Inputs); h2 != h {
		t.Errorf("moving the schedule rolls the pods: config hash %s -> %s", h, h2)
	}
	cm, err := specs.ConfigMap(&in.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	var doc scrutinv1.Election
	if err := yaml.Unmarshal([]byte(cm.Data[specs.ElectionFileKey]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Generation != 5 || !doc.Spec.Schedule.ClosesAt.Equal(&e.Spec.Schedule.ClosesAt) {
		t.Errorf("the election file has generation %d and closesAt %s; want 5 and %s", doc.Generation, doc.Spec.Schedule.ClosesAt, e.Spec.Schedule.ClosesAt)
	}
	e.Spec.Title = "Another title"
	if h2 := specstest.PodsConfigHash(t, &in.Inputs); h2 == h {
		t.Error("changing another setting of the election no longer rolls the pods")
	}
}

// TestScheduleMoveReachesRuntimeWithoutRestart: extending an Open election pushes
// the new schedule, with the Election's generation as its version, to the runtime's
// control API, and the pods are not rolled.
func TestScheduleMoveReachesRuntimeWithoutRestart(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "extended", time.Second, time.Hour))
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	key := client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RuntimeName}
	hash := func() string {
		var d appsv1.Deployment
		if err := k8s.Get(ctx, key, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[specs.ConfigHashAnnotation]
	}
	before := hash()
	closes := cur.Spec.Schedule.ClosesAt.Add(time.Hour)
	cur.Spec.Schedule.ClosesAt = metav1.NewTime(closes)
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new schedule pushed to the runtime", 15*time.Second, func() (bool, string) {
		pushed := double.schedulesTo(cur.Status.Namespace)
		for _, s := range pushed {
			if s.Version == cur.Generation && s.ClosesAt.Equal(closes) {
				return true, ""
			}
		}
		return false, "pushed: " + strings.TrimSpace(strings.Repeat(".", len(pushed)))
	})
	if after := hash(); after != before {
		t.Errorf("extending the election rolled the pods: config hash %s -> %s", before, after)
	}
}

// TestPhaseNeverMovesBackwards: an election recorded Closed whose schedule says it
// is still open (what a closesAt moved after the close gave) stays Closed and is
// counted; it never goes back to Open.
func TestPhaseNeverMovesBackwards(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "closed", time.Second, time.Hour))
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	cur.Status.Phase = scrutinv1.PhaseClosed
	if err := k8s.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	// a change of the spec outside the frozen fields brings a reconcile at once
	cur = getElection(t, e)
	cur.Spec.Title = "Closed early"
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if p := getElection(t, e).Status.Phase; p == scrutinv1.PhaseOpen || p == scrutinv1.PhaseScheduled {
			t.Fatalf("the election went back from Closed to %s", p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if p := getElection(t, e).Status.Phase; p != scrutinv1.PhaseTallied {
		t.Errorf("phase %s, want Tallied (the closed election counted)", p)
	}
}
