package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// prescaleSpec: open 08:00-18:00 UTC, 2 to 10 pods, 4 from the opening's lead to
// 09:00, and four announced peaks.
func prescaleSpec() *scrutinv1.ElectionSpec {
	day := func(h, m int) time.Time { return time.Date(2030, 5, 1, h, m, 0, 0, time.UTC) }
	peak := func(at time.Time, d time.Duration, n int32) scrutinv1.Peak {
		return scrutinv1.Peak{At: metav1.NewTime(at), Duration: &metav1.Duration{Duration: d}, MinReplicas: n}
	}
	return &scrutinv1.ElectionSpec{
		Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(day(8, 0)), ClosesAt: metav1.NewTime(day(18, 0))},
		Scaling: scrutinv1.Scaling{
			MinReplicas: 2, MaxReplicas: 10,
			OpeningMinReplicas: ptr.To(int32(4)),
			PreScaleLead:       &metav1.Duration{Duration: 10 * time.Minute},
			Peaks: []scrutinv1.Peak{
				peak(day(12, 0), time.Hour, 6),
				peak(day(12, 30), time.Hour, 8),      // overlaps the noon peak: the higher floor holds
				peak(day(15, 0), 30*time.Minute, 20), // above maxReplicas (the API refuses it): capped
				peak(day(17, 30), time.Hour, 3),      // past closesAt: cut at the close
			},
		},
	}
}

func TestEffectiveMinReplicas(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2030, 5, 1, h, m, s, 0, time.UTC) }
	tests := []struct {
		name   string
		now    time.Time
		want   int32
		reason string
		next   time.Time
	}{
		{"long before the opening", at(6, 0, 0), 2, "", at(7, 50, 0)},
		{"just before the opening's lead", at(7, 49, 59), 2, "", at(7, 50, 0)},
		{"the opening's lead starts", at(7, 50, 0), 4, "ahead of the opening at 08:00 UTC", at(9, 0, 0)},
		{"during the opening", at(8, 30, 0), 4, "for the opening at 08:00 UTC", at(9, 0, 0)},
		{"after the opening", at(9, 0, 0), 2, "", at(11, 50, 0)},
		{"within the noon peak's lead", at(11, 55, 0), 6, "ahead of the peak at 12:00 UTC", at(12, 20, 0)},
		{"overlapping peaks take the max", at(12, 20, 0), 8, "ahead of the peak at 12:30 UTC", at(13, 30, 0)},
		{"the first peak ended, the second holds", at(13, 0, 0), 8, "for the peak at 12:30 UTC", at(13, 30, 0)},
		{"between peaks", at(13, 30, 0), 2, "", at(14, 50, 0)},
		{"capped at maxReplicas", at(15, 10, 0), 10, "for the peak at 15:00 UTC", at(15, 30, 0)},
		{"a peak cut at the close", at(17, 45, 0), 3, "for the peak at 17:30 UTC", at(18, 0, 0)},
		{"after the close", at(18, 0, 0), 2, "", time.Time{}},
	}
	spec := prescaleSpec()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, reason, next := specs.EffectiveMinReplicas(spec, tc.now)
			if n != tc.want || reason != tc.reason || !next.Equal(tc.next) {
				t.Errorf("at %s: got (%d, %q, %s), want (%d, %q, %s)", tc.now.Format("15:04:05"),
					n, reason, next.Format(time.RFC3339), tc.want, tc.reason, tc.next.Format(time.RFC3339))
			}
		})
	}

	t.Run("nothing announced", func(t *testing.T) {
		s := prescaleSpec()
		s.Scaling.Peaks, s.Scaling.OpeningMinReplicas = nil, nil
		if n, reason, next := specs.EffectiveMinReplicas(s, at(7, 55, 0)); n != 2 || reason != "" || !next.IsZero() {
			t.Errorf("got (%d, %q, %s), want spec.scaling.minReplicas and no change ever", n, reason, next)
		}
	})
	t.Run("defaults when not defaulted", func(t *testing.T) {
		s := prescaleSpec()
		s.Scaling.PreScaleLead = nil          // 10m
		s.Scaling.Peaks[0].Duration = nil     // 1h
		s.Scaling.Peaks = s.Scaling.Peaks[:1] // noon, 6 pods
		s.Scaling.OpeningMinReplicas = nil
		if n, _, next := specs.EffectiveMinReplicas(s, at(11, 50, 0)); n != 6 || !next.Equal(at(13, 0, 0)) {
			t.Errorf("got (%d, %s), want 6 until 13:00", n, next)
		}
	})
	t.Run("a peak on another day is dated", func(t *testing.T) {
		s := prescaleSpec()
		s.Schedule.ClosesAt = metav1.NewTime(at(18, 0, 0).Add(48 * time.Hour))
		s.Scaling.Peaks = []scrutinv1.Peak{{At: metav1.NewTime(at(0, 5, 0).Add(24 * time.Hour)), MinReplicas: 5}}
		if _, reason, _ := specs.EffectiveMinReplicas(s, at(23, 58, 0)); reason != "ahead of the peak at 2030-05-02 00:05 UTC" {
			t.Errorf("reason %q", reason)
		}
	})
	t.Run("a floor no higher than minReplicas changes nothing", func(t *testing.T) {
		s := prescaleSpec()
		s.Scaling.OpeningMinReplicas = ptr.To(int32(2))
		if n, reason, next := specs.EffectiveMinReplicas(s, at(7, 0, 0)); n != 2 || reason != "" || !next.Equal(at(11, 50, 0)) {
			t.Errorf("got (%d, %q, %s), want 2 until the noon peak's lead", n, reason, next)
		}
	})
}

func TestFloorChangeInWords(t *testing.T) {
	spec := prescaleSpec()
	at := func(h, m int) time.Time { return time.Date(2030, 5, 1, h, m, 0, 0, time.UTC) }
	tests := []struct {
		now    time.Time
		was    int32
		reason string
		note   string
	}{
		{at(11, 50), 2, scrutinv1.EventMinReplicasRaised, "Raised the voting pods' floor to 6 ahead of the peak at 12:00 UTC (was 2)"},
		{at(13, 30), 8, scrutinv1.EventMinReplicasLowered, "Lowered the voting pods' floor to 2 after the peak at 12:30 UTC (was 8)"},
		{at(13, 0), 10, scrutinv1.EventMinReplicasLowered, "Lowered the voting pods' floor to 8 for the peak at 12:30 UTC (was 10)"},
		{at(10, 0), 3, scrutinv1.EventMinReplicasLowered, "Lowered the voting pods' floor to 2 (was 3)"}, // minReplicas edited
	}
	for _, tc := range tests {
		n, reason, _ := specs.EffectiveMinReplicas(spec, tc.now)
		gotReason, note := specs.FloorChange(spec, tc.now, tc.was, n, reason)
		if gotReason != tc.reason || note != tc.note {
			t.Errorf("at %s from %d: got %s %q, want %s %q", tc.now.Format("15:04"), tc.was, gotReason, note, tc.reason, tc.note)
		}
	}
}

// TestPreScaling: on a schedule seconds long, the HPA's floor is held for a peak
// under way, lowered after it, and raised ahead of a peak announced later, each
// change said once in an Event; announcing a peak does not roll the pods.
func TestPreScaling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newTenant(t)
	t0 := time.Now().Truncate(time.Second)          // RFC 3339 in the API: whole seconds
	e := postgresElection(t, ns, "peaks", pgURL(t)) // opens in an hour
	e.Spec.Scaling = scrutinv1.Scaling{
		MinReplicas: 1, MaxReplicas: 4,
		PreScaleLead: &metav1.Duration{Duration: 3 * time.Second},
		// Under way: started 40 s ago, ends in 20 s.
		Peaks: []scrutinv1.Peak{{At: metav1.NewTime(t0.Add(-40 * time.Second)), Duration: &metav1.Duration{Duration: time.Minute}, MinReplicas: 3}},
	}
	e = waitPhase(t, create(t, e), scrutinv1.PhaseScheduled, 20*time.Second)
	key := client.ObjectKey{Namespace: e.Status.Namespace, Name: specs.RuntimeName}
	hpaFloor := func() int32 {
		var h autoscalingv2.HorizontalPodAutoscaler
		if err := k8s.Get(ctx, key, &h); err != nil {
			t.Fatal(err)
		}
		return ptr.Deref(h.Spec.MinReplicas, 0)
	}
	waitFloor := func(what string, want int32, timeout time.Duration) {
		t.Helper()
		waitFor(t, what, timeout, func() (bool, string) {
			got, st := hpaFloor(), getElection(t, e).Status.MinReplicas
			return got == want && st == want, fmt.Sprintf("HPA minReplicas %d, status.minReplicas %d, want %d", got, st, want)
		})
	}
	configHash := func() string {
		var d appsv1.Deployment
		if err := k8s.Get(ctx, key, &d); err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[specs.ConfigHashAnnotation]
	}

	waitFloor("the floor of the peak under way", 3, time.Until(t0.Add(19*time.Second)))
	// The election's clock passes the peak's end (t0+20s).
	moveClock(t, e, t0.Add(21*time.Second))
	waitFloor("the floor lowered after the peak", 1, 10*time.Second)

	// An SRE announces a peak in 6 s: the floor goes up 3 s ahead of it, the
	// controller waking by itself (the election's clock runs on from where it
	// was moved to).
	until := func(at time.Time) time.Duration { return at.Sub(electionNow(e)) }
	hash := configHash()
	cur := getElection(t, e)
	announced := electionNow(e).Add(6 * time.Second).Truncate(time.Second)
	cur.Spec.Scaling.Peaks = append(cur.Spec.Scaling.Peaks, scrutinv1.Peak{At: metav1.NewTime(announced), MinReplicas: 4})
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	time.Sleep(until(announced.Add(-4 * time.Second)))
	if got := hpaFloor(); got != 1 {
		t.Errorf("the floor was raised %s before the lead (minReplicas %d)", until(announced)-3*time.Second, got)
	}
	waitFloor("the floor raised ahead of the announced peak", 4, until(announced))
	if h := configHash(); h != hash {
		t.Errorf("announcing a peak rolled the pods: config hash %s -> %s", hash, h)
	}

	waitFor(t, "one event per change", 5*time.Second, func() (bool, string) {
		var list eventsv1.EventList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, ev := range list.Items {
			if ev.Regarding.Name == e.Name && strings.HasPrefix(ev.Reason, "MinReplicas") {
				notes = append(notes, ev.Note)
				if ev.Series != nil {
					return false, fmt.Sprintf("%q was recorded %d times", ev.Note, ev.Series.Count)
				}
			}
		}
		for _, want := range []string{
			"Raised the voting pods' floor to 3 for the peak at",
			"Lowered the voting pods' floor to 1 after the peak at",
			"Raised the voting pods' floor to 4 ahead of the peak at " + announced.UTC().Format("15:04") + " UTC (was 1)",
		} {
			found := false
			for _, n := range notes {
				found = found || strings.HasPrefix(n, want)
			}
			if !found {
				return false, fmt.Sprintf("no event %q in %q", want, notes)
			}
		}
		if len(notes) != 3 {
			return false, fmt.Sprintf("want 3 events, got %q", notes)
		}
		return true, ""
	})
}
