package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

func TestRetired(t *testing.T) {
	closes := time.Date(2030, 5, 1, 18, 0, 0, 0, time.UTC)
	day := &metav1.Duration{Duration: 24 * time.Hour}
	archived := &scrutinv1.ArchiveStatus{Location: "s3://b/k"}
	bucket := &scrutinv1.Archive{S3: &scrutinv1.S3Archive{Bucket: "b"}}
	tests := map[string]struct {
		keep     *metav1.Duration
		archive  *scrutinv1.Archive
		phase    scrutinv1.Phase
		status   *scrutinv1.ArchiveStatus
		latched  bool
		now      time.Time
		want     bool
		wantWhen time.Time
	}{
		"no keepRunningFor: never": {phase: scrutinv1.PhaseTallied, now: closes.Add(1000 * time.Hour)},
		"before the end":           {keep: day, phase: scrutinv1.PhaseTallied, now: closes.Add(23 * time.Hour), wantWhen: closes.Add(24 * time.Hour)},
		"at the end, no archive":   {keep: day, phase: scrutinv1.PhaseTallied, now: closes.Add(24 * time.Hour), want: true, wantWhen: closes.Add(24 * time.Hour)},
		"not tallied":              {keep: day, phase: scrutinv1.PhaseClosed, now: closes.Add(48 * time.Hour), wantWhen: closes.Add(24 * time.Hour)},
		"archive not in yet":       {keep: day, archive: bucket, phase: scrutinv1.PhaseTallied, now: closes.Add(48 * time.Hour), wantWhen: closes.Add(24 * time.Hour)},
		"archived":                 {keep: day, archive: bucket, status: archived, phase: scrutinv1.PhaseTallied, now: closes.Add(48 * time.Hour), want: true, wantWhen: closes.Add(24 * time.Hour)},
		"once retired, stays so":   {keep: day, latched: true, phase: scrutinv1.PhaseTallied, now: closes, want: true, wantWhen: closes.Add(24 * time.Hour)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := testElection("tenant", "board", "u1")
			e.Spec.Schedule.ClosesAt = metav1.NewTime(closes)
			e.Spec.Retention.KeepRunningFor = tc.keep
			e.Spec.Archive = tc.archive
			e.Status = scrutinv1.ElectionStatus{Phase: tc.phase, Archive: tc.status, Retired: tc.latched}
			if got := retired(e, tc.now); got != tc.want {
				t.Errorf("retired: %v, want %v", got, tc.want)
			}
			if got := retireAt(e); !got.Equal(tc.wantWhen) {
				t.Errorf("retireAt: %s, want %s", got, tc.wantWhen)
			}
		})
	}
}

// A retired election's objects: the Deployment at zero replicas, no autoscaler;
// everything else (the volume of its store included) as before.
func TestRetiredObjects(t *testing.T) {
	in := testInputs(testElection("tenant", "board", "u1"))
	running, err := specs.DesiredObjects(&in.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	in.Retired = true
	retiredObjs, err := specs.DesiredObjects(&in.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(retiredObjs) != len(running)-1 {
		t.Fatalf("%d objects retired, %d running: want one fewer (the autoscaler)", len(retiredObjs), len(running))
	}
	for _, o := range retiredObjs {
		switch o := o.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			t.Error("a retired election keeps its autoscaler")
		case *appsv1.Deployment:
			if o.Spec.Replicas == nil || *o.Spec.Replicas != 0 {
				t.Errorf("retired Deployment's replicas: %v, want 0", o.Spec.Replicas)
			}
		}
	}
	for _, o := range running {
		if d, ok := o.(*appsv1.Deployment); ok && d.Spec.Replicas != nil {
			t.Errorf("a running election's Deployment sets replicas (%d): they are the autoscaler's", *d.Spec.Replicas)
		}
	}
}

func TestArchiveBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 4: 80 * time.Second, 7: 10 * time.Minute, 30: 10 * time.Minute} {
		if got := archiveBackoff(n); got != want {
			t.Errorf("after %d failures: %s, want %s", n, got, want)
		}
	}
}

// TestArchiveAttemptsWait: after a failed upload, no attempt may start before the
// backoff's time, whatever reconciles come meanwhile; a success forgets it.
func TestArchiveAttemptsWait(t *testing.T) {
	var a archiveAttempts
	k := types.NamespacedName{Namespace: "tenant", Name: "board"}
	now := time.Date(2027, 3, 14, 20, 0, 0, 0, time.UTC)
	if w := a.wait(k, now); w != 0 {
		t.Fatalf("before any failure: wait %s", w)
	}
	if n, w := a.fail(k, now); n != 1 || w != 10*time.Second {
		t.Fatalf("first failure: %d, %s", n, w)
	}
	if w := a.wait(k, now.Add(4*time.Second)); w != 6*time.Second {
		t.Errorf("4 s after: wait %s, want 6s", w)
	}
	if w := a.wait(k, now.Add(10*time.Second)); w != 0 {
		t.Errorf("10 s after: wait %s, want 0", w)
	}
	if n, w := a.fail(k, now.Add(10*time.Second)); n != 2 || w != 20*time.Second {
		t.Errorf("second failure: %d, %s", n, w)
	}
	a.drop(k)
	if w := a.wait(k, now.Add(11*time.Second)); w != 0 {
		t.Errorf("after a success: wait %s", w)
	}
}
