package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// The runtime opens, closes and counts by itself on its schedule; these tests
// check that the controller rebuilds the election's phase from what the runtime
// says, whatever it missed.

// downDuring stops the controller, runs the runtime of e's namespace through its
// whole vote by itself, moves e's clock past the close, and starts the
// controller again.
func downDuring(t *testing.T, e *scrutinv1.Election) {
	t.Helper()
	if err := stopManager(); err != nil {
		t.Fatalf("while stopping the manager: %v", err)
	}
	double.runBySchedule(specs.NamespaceName(e))
	moveClock(t, e, e.Spec.Schedule.ClosesAt.Add(time.Second))
	if err := startManager(testOpt); err != nil {
		t.Fatalf("while starting the manager: %v", err)
	}
}

// assertTalliedFromTheRuntime: the election is Tallied with the runtime's results
// and never went through Failed.
func assertTalliedFromTheRuntime(t *testing.T, e *scrutinv1.Election) *scrutinv1.Election {
	t.Helper()
	var cur *scrutinv1.Election
	waitFor(t, "Tallied, never Failed", 20*time.Second, func() (bool, string) {
		cur = getElection(t, e)
		if cur.Status.Phase == scrutinv1.PhaseFailed {
			t.Fatalf("the election Failed: %+v", cur.Status.Conditions)
		}
		return cur.Status.Phase == scrutinv1.PhaseTallied, fmt.Sprintf("phase %q, conditions %+v", cur.Status.Phase, cur.Status.Conditions)
	})
	if len(cur.Status.Results) != 2 || cur.Status.Results[0].QuestionID != "chair" || cur.Status.AuditHead != "sha256:tallied" ||
		cur.Status.Turnout != "75.0%" {
		t.Errorf("results %+v, audit head %q, turnout %q", cur.Status.Results, cur.Status.AuditHead, cur.Status.Turnout)
	}
	if c := condition(cur, scrutinv1.ConditionTallied); c.Status != metav1.ConditionTrue || c.Reason != "Tallied" {
		t.Errorf("Tallied: %+v", c)
	}
	if c := condition(cur, scrutinv1.ConditionOpen); c.Status != metav1.ConditionFalse || c.Reason != "Closed" {
		t.Errorf("Open: %+v", c)
	}
	waitFor(t, "the Closed and Tallied events, no NeverOpened", 5*time.Second, func() (bool, string) {
		reasons := eventReasons(t, e)
		if slices.Contains(reasons, "NeverOpened") {
			t.Fatalf("a NeverOpened event was recorded: %v", reasons)
		}
		return slices.Contains(reasons, "Closed") && slices.Contains(reasons, "Tallied"), strings.Join(reasons, ",")
	})
	return cur
}

// TestControllerDownThroughTheWindow: the controller last saw the election
// Scheduled, before opensAt, and comes back after closesAt; the runtime opened,
// closed and counted meanwhile. The election is Tallied with its results, never
// Failed, and the runtime was never told to open.
func TestControllerDownThroughTheWindow(t *testing.T) {
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "unwatched", time.Hour, time.Hour+3*time.Second))
	waitPhase(t, e, scrutinv1.PhaseScheduled, 10*time.Second)
	downDuring(t, e)
	cur := assertTalliedFromTheRuntime(t, e)
	if calls := double.callsTo(cur.Status.Namespace); slices.Contains(calls, "open") || slices.Contains(calls, "close") {
		t.Errorf("the runtime was nudged although it had done it all: %v", calls)
	}
}

// TestControllerDownThroughTheClose: the controller saw the election Open and
// comes back after closesAt; the runtime closed and counted meanwhile.
func TestControllerDownThroughTheClose(t *testing.T) {
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "closed-unwatched", time.Hour, time.Hour+6*time.Second))
	waitPhase(t, e, scrutinv1.PhaseScheduled, 10*time.Second)
	moveClock(t, e, e.Spec.Schedule.OpensAt.Time)
	waitPhase(t, e, scrutinv1.PhaseOpen, 10*time.Second)
	downDuring(t, e)
	cur := assertTalliedFromTheRuntime(t, e)
	if calls := double.callsTo(cur.Status.Namespace); !slices.Contains(calls, "open") || slices.Contains(calls, "close") {
		t.Errorf("calls to the runtime: %v; want an open nudge in the window, no close nudge", calls)
	}
}

// TestRuntimeTalliedBeforeAsked: the controller runs throughout, and the runtime
// has closed and counted by itself by the time the controller looks: no close
// nudge, the results are read at once.
func TestRuntimeTalliedBeforeAsked(t *testing.T) {
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "early-tally", time.Hour, time.Hour+4*time.Second))
	waitPhase(t, e, scrutinv1.PhaseScheduled, 10*time.Second)
	moveClock(t, e, e.Spec.Schedule.OpensAt.Time)
	waitPhase(t, e, scrutinv1.PhaseOpen, 10*time.Second)
	double.runBySchedule(specs.NamespaceName(e))
	moveClock(t, e, e.Spec.Schedule.ClosesAt.Time)
	cur := assertTalliedFromTheRuntime(t, e)
	calls := double.callsTo(cur.Status.Namespace)
	if slices.Contains(calls, "close") || !slices.Contains(calls, "results") {
		t.Errorf("calls to the runtime: %v; want the results read, no close nudge", calls)
	}
}

// TestNoValidRollThroughTheCloseFails: without a valid roll until the close, no
// runtime could open: the election Failed, NeverOpened.
func TestNoValidRollThroughTheCloseFails(t *testing.T) {
	ns := newTenant(t)
	e := create(t, newElectionWithRoll(t, ns, "no-roll", time.Hour, time.Hour+2*time.Second,
		"voter_id,name,email,phone\nA-1,Camille Martin,not-an-email,\n",
		map[string]string{"host": "192.0.2.25", "port": "2525", "password": "smtp-" + ns + "-no-roll"}))
	waitFor(t, "the roll found invalid", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionRollValid)
		return c.Status == metav1.ConditionFalse, fmt.Sprintf("RollValid %+v", c)
	})
	moveClock(t, e, e.Spec.Schedule.OpensAt.Time)
	waitFor(t, "the opening held back by the roll", 10*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionOpen)
		return c.Reason == scrutinv1.ReasonRollInvalid, fmt.Sprintf("Open %+v", c)
	})
	moveClock(t, e, e.Spec.Schedule.ClosesAt.Time)
	cur := waitPhase(t, e, scrutinv1.PhaseFailed, 20*time.Second)
	if c := condition(cur, scrutinv1.ConditionOpen); c.Status != metav1.ConditionFalse {
		t.Errorf("Open: %+v", c)
	}
	waitFor(t, "a NeverOpened event", 5*time.Second, func() (bool, string) {
		reasons := eventReasons(t, e)
		return slices.Contains(reasons, "NeverOpened"), strings.Join(reasons, ",")
	})
	if calls := double.callsTo(cur.Status.Namespace); slices.Contains(calls, "open") || slices.Contains(calls, "results") {
		t.Errorf("calls to the runtime: %v; want neither an open nudge nor a results read", calls)
	}
}
