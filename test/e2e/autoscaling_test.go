//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/test/load"
)

// replicas is the voting-runtime Deployment's wanted replicas and the HPA's floor.
func replicas(t *testing.T, ns string) (want, floor int32) {
	t.Helper()
	d, err := kube.AppsV1().Deployments(ns).Get(t.Context(), "voting-runtime", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(t.Context(), "voting-runtime", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	if h.Spec.MinReplicas != nil {
		floor = *h.Spec.MinReplicas
	}
	return want, floor
}

// TestAutoscalingUnderLoad: voters arriving faster than one pod's CPU request
// serves make the HPA (CPU, from metrics-server) add pods, within the Election's
// bounds; once they stop, it goes back to the floor after its stabilisation window
// (5 minutes).
func TestAutoscalingUnderLoad(t *testing.T) {
	const rate, minutes = 40, 3
	ns := "e2e-autoscaling"
	congress(t, ns, rate*60*minutes+100, 1, 3, 45*time.Second, time.Hour)
	e := waitPhase(t, ns, "congress", scrutinv1.PhaseOpen, 3*time.Minute)
	enc := e.Status.Namespace
	waitFor(t, "one voting pod Ready", 2*time.Minute, func() (bool, error) { return readyPods(t, enc) == 1, nil })

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	target := &load.Target{URL: ingressURL(t, enc), Phones: phone, Answers: load.DefaultAnswers, MaxRetries: 10, SameAddress: true, ForwardedFor: true,
		Dial: gateway.DialContext, TLS: gateway.TLSConfig()}
	stats := load.NewStats()
	done := make(chan struct{})
	go func() {
		defer close(done)
		target.Run(ctx, load.Constant(rate, minutes*time.Minute), 1, 0, stats)
	}()
	var peak int32
	waitFor(t, "the HPA adding pods under load", minutes*time.Minute, func() (bool, error) {
		want, _ := replicas(t, enc)
		peak = max(peak, want)
		return want > 1, fmt.Errorf("%d replicas wanted", want)
	})
	<-done
	res := stats.Result()
	if res.Status5xx != 0 || res.Failed() != 0 {
		t.Errorf("under load: %d 5xx, failures: %s", res.Status5xx, res.FailureList())
	}
	want, _ := replicas(t, enc)
	if want > 3 {
		t.Errorf("%d replicas, past the Election's maxReplicas 3", want)
	}
	t.Logf("%d voters voted while the HPA scaled to %d pods", res.Journeys, max(peak, want))
	waitFor(t, "the HPA back to one pod once the load stopped", 8*time.Minute, func() (bool, error) {
		want, _ := replicas(t, enc)
		return want == 1, fmt.Errorf("%d replicas wanted", want)
	})
}

// TestPreScaling: a peak announced on the Election raises the HPA's floor (and so
// the pods) its lead time ahead, and lowers it after.
func TestPreScaling(t *testing.T) {
	ns := "e2e-prescaling"
	peak := time.Now().Add(90 * time.Second).Truncate(time.Second)
	congress(t, ns, 10, 1, 3, 30*time.Second, time.Hour, func(e *scrutinv1.Election) {
		e.Spec.Scaling.PreScaleLead = &metav1.Duration{Duration: 30 * time.Second}
		e.Spec.Scaling.Peaks = []scrutinv1.Peak{{At: metav1.NewTime(peak), Duration: &metav1.Duration{Duration: time.Minute}, MinReplicas: 2}}
	})
	e := waitPhase(t, ns, "congress", scrutinv1.PhaseOpen, 3*time.Minute)
	enc := e.Status.Namespace
	if _, floor := replicas(t, enc); floor != 1 || time.Until(peak) < 30*time.Second {
		t.Fatalf("floor %d with %s to the peak", floor, time.Until(peak))
	}
	waitFor(t, "the floor raised to 2 ahead of the peak, and a second pod Ready", 2*time.Minute, func() (bool, error) {
		_, floor := replicas(t, enc)
		return floor == 2 && readyPods(t, enc) == 2, fmt.Errorf("floor %d, %d pods Ready", floor, readyPods(t, enc))
	})
	if early := time.Until(peak); early < 0 {
		t.Errorf("the second pod was Ready only %s after the peak began", -early)
	}
	waitFor(t, "the floor lowered after the peak", 3*time.Minute, func() (bool, error) {
		_, floor := replicas(t, enc)
		return floor == 1, fmt.Errorf("floor %d", floor)
	})
	if ev := eventsOf(t, ns); !strings.Contains(ev, "MinReplicasRaised") || !strings.Contains(ev, "MinReplicasLowered") {
		t.Errorf("events of the tenant's namespace: %s", ev)
	}
}
