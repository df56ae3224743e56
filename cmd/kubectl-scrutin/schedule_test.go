package main

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func createRollSecret(t *testing.T, ns, name, roll string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"roll.csv": roll}}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func TestExtendMovesClosesAtAndRecordsAnEvent(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "board", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	was := e.Spec.Schedule.ClosesAt.UTC()

	r := kubectlScrutin(t, ns, "extend", "board", "--by", "90m")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := was.Add(90 * time.Minute)
	if got := get(t, e).Spec.Schedule.ClosesAt.UTC(); !got.Equal(want) {
		t.Errorf("closesAt = %s, want %s", got, want)
	}
	note := "Schedule moved by kubectl scrutin: closes at " + want.Format(time.RFC3339) + " (was " + was.Format(time.RFC3339) + "), by scrutin-admin"
	mustContain(t, "stdout", r.stdout, "now closes at", note)
	evs := scheduleEvents(t, e)
	if len(evs) != 1 || evs[0].Note != note || evs[0].Type != corev1.EventTypeNormal || evs[0].ReportingInstance != "scrutin-admin" ||
		evs[0].ReportingController != eventController || evs[0].Regarding.UID != e.UID {
		t.Errorf("events: %+v\nwant one with note %q", evs, note)
	}

	// To a given time.
	at := time.Now().Add(5 * time.Hour).Truncate(time.Second)
	r = kubectlScrutin(t, ns, "extend", "board", "--closes", at.Format(time.RFC3339))
	if got := get(t, e).Spec.Schedule.ClosesAt; r.code != 0 || !got.Time.Equal(at) {
		t.Errorf("--closes: exit %d, closesAt %s, want %s", r.code, got.UTC(), at.UTC())
	}
	if n := len(scheduleEvents(t, e)); n != 2 {
		t.Errorf("%d ScheduleMoved events, want 2", n)
	}

	// What is refused.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"extend", "board"}, "give either --closes TIME or --by DURATION"},
		{[]string{"extend", "board", "--by", "1h", "--closes", at.Format(time.RFC3339)}, "give either --closes TIME or --by DURATION"},
		{[]string{"extend", "board", "--by", "-1h"}, "--by: -1h0m0s is not a positive duration"},
		{[]string{"extend", "board", "--closes", time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}, "has passed: to close the election now, use kubectl scrutin close board"},
		{[]string{"extend", "board", "--closes", "next friday"}, `--closes: "next friday" is not an RFC 3339 time`},
	} {
		if r := kubectlScrutin(t, ns, tc.args...); r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	closed := election(t, ns, "closed", -2*time.Hour, -time.Hour, scrutinv1.PhaseClosed)
	if r := kubectlScrutin(t, ns, "extend", closed.Name, "--by", "1h"); r.code != 1 || !strings.Contains(r.stderr, `election "closed" is already Closed`) {
		t.Errorf("extend a Closed election: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := len(scheduleEvents(t, closed)); n != 0 {
		t.Errorf("refused move recorded %d events", n)
	}
}

func TestExtendRefusedByTheAPIServerNamesTheField(t *testing.T) {
	ns := newTenant(t)
	// Scheduled, opening in 3h: closing in 2h would close before it opens.
	e := election(t, ns, "agm", 3*time.Hour, 4*time.Hour, scrutinv1.PhaseScheduled)
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	r := kubectlScrutin(t, ns, "extend", "agm", "--closes", at.Format(time.RFC3339))
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	mustContain(t, "stderr", r.stderr, `the API server refused the new schedule of election agm`, "spec.schedule.closesAt (closing time): must be after opensAt")
	if n := len(scheduleEvents(t, e)); n != 0 {
		t.Errorf("refused move recorded %d events", n)
	}
}

func TestOpen(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "agm", 2*time.Hour, 4*time.Hour, scrutinv1.PhaseScheduled)
	was := e.Spec.Schedule.OpensAt.UTC()
	before := time.Now().Truncate(time.Second)
	r := kubectlScrutin(t, ns, "open", "agm")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := get(t, e).Spec.Schedule.OpensAt.UTC()
	if got.Before(before) || got.After(time.Now()) {
		t.Errorf("opensAt = %s, want now (%s)", got, before)
	}
	evs := scheduleEvents(t, e)
	want := "Schedule moved by kubectl scrutin: opens at " + got.Format(time.RFC3339) + " (was " + was.Format(time.RFC3339) + "), by scrutin-admin"
	if len(evs) != 1 || evs[0].Note != want {
		t.Errorf("events %+v, want one with %q", evs, want)
	}
}

func TestOpenRefusedOnceOpen(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "board", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	r := kubectlScrutin(t, ns, "open", "board")
	if r.code != 1 || !strings.Contains(r.stderr, `election "board" is already Open`) || !strings.Contains(r.stderr, "frozen") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if got := get(t, e).Spec.Schedule.OpensAt; !got.Equal(&e.Spec.Schedule.OpensAt) {
		t.Errorf("opensAt moved to %s", got)
	}
	if n := len(scheduleEvents(t, e)); n != 0 {
		t.Errorf("refused open recorded %d events", n)
	}
	past := election(t, ns, "past", 2*time.Hour, 3*time.Hour, scrutinv1.PhaseScheduled)
	setStatus(t, past, func(s *scrutinv1.ElectionStatus) { s.Phase = scrutinv1.PhaseTallied })
	if r := kubectlScrutin(t, ns, "open", "past"); r.code != 1 || !strings.Contains(r.stderr, "is already Tallied") {
		t.Errorf("open a Tallied election: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestClose(t *testing.T) {
	ns := newTenant(t)
	e := election(t, ns, "board", -time.Hour, time.Hour, scrutinv1.PhaseOpen)
	r := kubectlScrutin(t, ns, "close", "board")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	got := get(t, e).Spec.Schedule.ClosesAt
	if d := time.Since(got.Time); d < 0 || d > 10*time.Second {
		t.Errorf("closesAt = %s, want now", got.UTC())
	}
	if evs := scheduleEvents(t, e); len(evs) != 1 || !strings.Contains(evs[0].Note, "Schedule moved by kubectl scrutin: closes at ") {
		t.Errorf("events %+v", evs)
	}

	later := election(t, ns, "later", time.Hour, 2*time.Hour, scrutinv1.PhaseScheduled)
	if r := kubectlScrutin(t, ns, "close", later.Name); r.code != 1 || !strings.Contains(r.stderr, "has not opened") {
		t.Errorf("close before opening: exit %d, stderr %q", r.code, r.stderr)
	}
}
