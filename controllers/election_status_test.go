package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestReadyCondition: Ready names the problem a person must act on first,
// whatever the order the reconcile met them in, and the others by reason only.
func TestReadyCondition(t *testing.T) {
	roll := problem{scrutinv1.ReasonRollInvalid, "line 3: no voter_id"}
	taken := problem{scrutinv1.ReasonHostnameTaken, "host a.example.org belongs to Election t/a"}
	failed := problem{scrutinv1.ReasonProvisioningFailed, "while applying: dial tcp 10.0.0.1:443: refused"}
	unreachable := problem{scrutinv1.ReasonRuntimeUnreachable, "timeout"}
	available := &shownDeployment{replicas: 3, ready: 2, available: 2, availableCondition: corev1.ConditionTrue}
	starting := &shownDeployment{replicas: 2, availableCondition: corev1.ConditionFalse}
	for _, c := range []struct {
		name            string
		o               readyObserved
		status          metav1.ConditionStatus
		reason, message string
	}{
		{"a conflict before the roll, met last", readyObserved{problems: []problem{failed, roll, taken}},
			metav1.ConditionFalse, scrutinv1.ReasonHostnameTaken, taken.message + " (also: RollInvalid, ProvisioningFailed)"},
		{"the roll before the platform's failure, met first or last", readyObserved{problems: []problem{unreachable, failed, roll}},
			metav1.ConditionFalse, scrutinv1.ReasonRollInvalid, roll.message + " (also: ProvisioningFailed, RuntimeUnreachable)"},
		{"one problem met twice is named once", readyObserved{problems: []problem{unreachable, unreachable}},
			metav1.ConditionFalse, scrutinv1.ReasonRuntimeUnreachable, "timeout"},
		{"a problem outranks the retirement", readyObserved{problems: []problem{roll}, retired: true, deployment: available},
			metav1.ConditionFalse, scrutinv1.ReasonRollInvalid, roll.message},
		{"retired", readyObserved{retired: true}, metav1.ConditionTrue, scrutinv1.ReasonRetired, ""},
		{"available", readyObserved{deployment: available}, metav1.ConditionTrue, scrutinv1.ReasonRuntimeAvailable, "2 of 3 voting pods ready"},
		{"starting", readyObserved{deployment: starting}, metav1.ConditionFalse, scrutinv1.ReasonRuntimeStarting, ""},
		{"no Deployment yet", readyObserved{}, metav1.ConditionFalse, scrutinv1.ReasonRuntimeStarting, ""},
	} {
		got := readyCondition(c.o)
		if got.Type != scrutinv1.ConditionReady || got.Status != c.status || got.Reason != c.reason ||
			(c.message != "" && got.Message != c.message) {
			t.Errorf("%s: %s %s %q, want %s %s %q", c.name, got.Status, got.Reason, got.Message, c.status, c.reason, c.message)
		}
	}
	// the remote's words of a lower problem never reach Ready through the list
	if got := readyCondition(readyObserved{problems: []problem{roll, failed}}); strings.Contains(got.Message, "10.0.0.1") {
		t.Errorf("Ready shows a lower problem's message: %q", got.Message)
	}
}

// TestAnnounce: one Event per transition from the status read to the status
// written, with the condition's reason; none for a state that did not change,
// nor for steps on the way; a reason said by the phase's move is not said again.
func TestAnnounce(t *testing.T) {
	rec := events.NewFakeRecorder(100)
	r := &ElectionReconciler{Recorder: rec}
	drain := func() []string {
		var out []string
		for {
			select {
			case ev := <-rec.Events:
				out = append(out, ev)
			default:
				return out
			}
		}
	}
	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
	}
	e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Name: "congress", Namespace: "t"}}
	before := scrutinv1.ElectionStatus{Phase: scrutinv1.PhaseScheduled, Conditions: []metav1.Condition{
		cond(scrutinv1.ConditionReady, metav1.ConditionTrue, scrutinv1.ReasonRuntimeAvailable, "2 of 2 voting pods ready"),
		cond(scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonNotYetOpen, "Opens at"),
		cond(scrutinv1.ConditionRollValid, metav1.ConditionTrue, scrutinv1.ReasonRollValid, "ok"),
	}}

	// nothing changed but a message: nothing said
	e.Status = *before.DeepCopy()
	e.Status.Conditions[0].Message = "3 of 3 voting pods ready"
	r.announce(e, &before, nil)
	if got := drain(); len(got) != 0 {
		t.Errorf("a message change was announced: %q", got)
	}

	// the vote opens, closes and is counted in one reconcile; the roll goes bad
	e.Status = *before.DeepCopy()
	var moves []phaseNote
	setPhase(e, &moves, scrutinv1.PhaseOpen, scrutinv1.ReasonOpened, "open until")
	setPhase(e, &moves, scrutinv1.PhaseClosed, scrutinv1.ReasonClosed, "closed; counting")
	setPhase(e, &moves, scrutinv1.PhaseScheduled, scrutinv1.ReasonProvisioned, "never backwards")
	setPhase(e, &moves, scrutinv1.PhaseTallied, scrutinv1.ReasonTallied, "results in")
	setCondition(e, scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonClosed, "Closed at")
	setCondition(e, scrutinv1.ConditionTallied, metav1.ConditionTrue, scrutinv1.ReasonTallied, "2 ballots")
	setCondition(e, scrutinv1.ConditionRollValid, metav1.ConditionFalse, scrutinv1.ReasonRollInvalid, "line 2")
	setCondition(e, scrutinv1.ConditionArchived, metav1.ConditionFalse, scrutinv1.ReasonArchiveWaiting, "waiting")
	r.announce(e, &before, moves)
	want := []string{
		"Normal Opened open until", "Normal Closed closed; counting", "Normal Tallied results in",
		"Warning RollInvalid line 2",
	}
	if got := drain(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}

	// a conflict: the phase's move says it, Ready does not repeat it; the next
	// reconcile, which finds the same, says nothing
	e.Status = *before.DeepCopy()
	moves = nil
	setCondition(e, scrutinv1.ConditionReady, metav1.ConditionFalse, scrutinv1.ReasonNamespaceConflict, "not this election's")
	setPhase(e, &moves, scrutinv1.PhaseFailed, scrutinv1.ReasonNamespaceConflict, "not this election's")
	r.announce(e, &before, moves)
	if got := drain(); !slices.Equal(got, []string{"Warning NamespaceConflict not this election's"}) {
		t.Errorf("conflict: %q", got)
	}
	again := e.Status.DeepCopy()
	r.announce(e, again, nil)
	if got := drain(); len(got) != 0 {
		t.Errorf("a state that repeats was announced again: %q", got)
	}

	// an upgrade held while open is news, and so is another image held for the same reason
	e.Status = *before.DeepCopy()
	setCondition(e, scrutinv1.ConditionRuntimeUpToDate, metav1.ConditionFalse, scrutinv1.ReasonUpgradeHeldWhileOpen, "held: b")
	e.Status.Runtime = &scrutinv1.RuntimeState{PendingTemplateHash: "b"}
	r.announce(e, &before, nil)
	held := e.Status.DeepCopy()
	e.Status.Runtime = &scrutinv1.RuntimeState{PendingTemplateHash: "c"}
	setCondition(e, scrutinv1.ConditionRuntimeUpToDate, metav1.ConditionFalse, scrutinv1.ReasonUpgradeHeldWhileOpen, "held: c")
	r.announce(e, held, nil)
	if got := drain(); !slices.Equal(got, []string{"Normal UpgradeHeldWhileOpen held: b", "Normal UpgradeHeldWhileOpen held: c"}) {
		t.Errorf("held upgrades: %q", got)
	}
}

// TestStatusSaidOnceAndRanked, against the API server: an Election whose roll is
// bad and whose scrutineers' Secret name is taken is first seen Pending (written
// before anything is provisioned), then Ready names the conflict, which a person
// must resolve first, though the roll was read before it; the conflict's Event is
// recorded once however many reconciles find it again.
func TestStatusSaidOnceAndRanked(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	createSecret(t, ns, "ranked-scrutineer", map[string]string{"token": "the tenant's own"})

	w, err := client.NewWithWatch(env.Config, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	watch, err := w.Watch(ctx, &scrutinv1.ElectionList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	var phases []scrutinv1.Phase
	seen := make(chan struct{})
	go func() {
		defer close(seen)
		for ev := range watch.ResultChan() {
			if e, ok := ev.Object.(*scrutinv1.Election); ok && (len(phases) == 0 || phases[len(phases)-1] != e.Status.Phase) {
				phases = append(phases, e.Status.Phase)
			}
		}
	}()

	e := create(t, newElectionWithRoll(t, ns, "ranked", time.Hour, 2*time.Hour, "voter_id,name,email\n,No Id,x@example.org\n",
		map[string]string{"host": "192.0.2.25", "port": "2525", "password": "smtp-ranked"}))
	waitFor(t, "Ready=False ScrutineerSecretConflict", 15*time.Second, func() (bool, string) {
		c := condition(getElection(t, e), scrutinv1.ConditionReady)
		return c.Reason == scrutinv1.ReasonScrutineerSecretConflict && strings.Contains(c.Message, "(also: RollInvalid"), fmt.Sprintf("%+v", c)
	})
	if c := condition(getElection(t, e), scrutinv1.ConditionRollValid); c.Reason != scrutinv1.ReasonRollInvalid {
		t.Errorf("RollValid: %+v", c)
	}
	// three more reconciles that find the same conflict
	for i := range 3 {
		updateElection(t, e, func(cur *scrutinv1.Election) {
			cur.Spec.Schedule.ClosesAt = metav1.NewTime(cur.Spec.Schedule.ClosesAt.Add(time.Minute))
		})
		waitFor(t, fmt.Sprintf("reconcile %d of the moved close", i+1), 15*time.Second, func() (bool, string) {
			cur := getElection(t, e)
			return cur.Status.ObservedGeneration == cur.Generation, fmt.Sprintf("observed %d of %d", cur.Status.ObservedGeneration, cur.Generation)
		})
	}
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	conflicts := 0
	for _, ev := range list.Items {
		if ev.Regarding.Name == e.Name && ev.Reason == scrutinv1.ReasonScrutineerSecretConflict {
			conflicts++
			if ev.Series != nil {
				t.Errorf("the conflict was recorded %d times", ev.Series.Count)
			}
		}
	}
	if conflicts != 1 {
		t.Errorf("%d ScrutineerSecretConflict events, want 1: %v", conflicts, eventReasons(t, e))
	}
	watch.Stop()
	<-seen
	if len(phases) < 2 || phases[0] != "" && phases[0] != scrutinv1.PhasePending || !slices.Contains(phases, scrutinv1.PhasePending) {
		t.Errorf("phases seen %q: Pending was never written", phases)
	}
}

// TestObservedConditions: RollValid, RuntimeUpToDate, Delivered and Archived
// are computed from what the steps observed, and only from that; a step that did
// not look leaves its condition as it was.
func TestObservedConditions(t *testing.T) {
	rollValid := metav1.Condition{Type: scrutinv1.ConditionRollValid, Status: metav1.ConditionTrue,
		Reason: scrutinv1.ReasonRollValid, Message: "3 voters on the roll (sha256:ab)"}
	noted := rollValid
	noted.Message += changedMarker + "Secret roll, key roll.csv"
	none, changed := "", "Secret roll, key roll.csv"
	queuedAt := metav1.NewTime(time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC))
	for name, tc := range map[string]struct {
		current []metav1.Condition
		o       observedState
		want    []metav1.Condition
	}{
		"nothing observed: nothing set": {current: []metav1.Condition{rollValid}},
		"a roll checked": {current: []metav1.Condition{noted},
			o:    observedState{roll: &rollObserved{verdict: &verdict{metav1.ConditionFalse, scrutinv1.ReasonRollInvalid, "line 3: no id"}}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionRollValid, Status: metav1.ConditionFalse, Reason: scrutinv1.ReasonRollInvalid, Message: "line 3: no id"}}},
		"a roll changed after the opening": {current: []metav1.Condition{rollValid},
			o: observedState{roll: &rollObserved{changedSinceOpening: &changed}}, want: []metav1.Condition{noted}},
		"a change undone": {current: []metav1.Condition{noted},
			o: observedState{roll: &rollObserved{changedSinceOpening: &none}}, want: []metav1.Condition{rollValid}},
		"changed parts before any verdict": {o: observedState{roll: &rollObserved{changedSinceOpening: &changed}}},
		"the manager's runtime": {o: observedState{runtime: &runtimeObserved{state: scrutinv1.RuntimeState{Image: "runtime:2", TemplateHash: "t2"}}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionRuntimeUpToDate, Status: metav1.ConditionTrue, Reason: scrutinv1.ReasonRuntimeUpToDate,
				Message: "The voting pods run the manager's runtime, image runtime:2"}}},
		"an upgrade held while open": {o: observedState{runtime: &runtimeObserved{hold: scrutinv1.ReasonUpgradeHeldWhileOpen,
			state: scrutinv1.RuntimeState{Image: "runtime:1", TemplateHash: "t1", PendingImage: "runtime:2", PendingTemplateHash: "t2"}}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionRuntimeUpToDate, Status: metav1.ConditionFalse, Reason: scrutinv1.ReasonUpgradeHeldWhileOpen,
				Message: "The vote is open: the voting pods keep image runtime:1 (template t1); the manager's image runtime:2 (template t2) is held back until upgradePolicy is Immediate"}}},
		"letters waiting": {o: observedState{delivery: &scrutinv1.DeliveryStatus{OldestQueuedAt: &queuedAt,
			Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Queued: 2, Sent: 1}}}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionDelivered, Status: metav1.ConditionFalse, Reason: scrutinv1.ReasonSending,
				Message: "2 message(s) waiting to be sent (mail: 2 queued, 1 sent, 0 failed, 0 delivered, 0 bounced); the oldest queued at 2030-05-01T08:00:00Z"}}},
		"a failure outranks the queue": {o: observedState{delivery: &scrutinv1.DeliveryStatus{
			Channels: []scrutinv1.ChannelDelivery{{Channel: "sms", Queued: 2, Failed: 1}}}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionDelivered, Status: metav1.ConditionFalse, Reason: scrutinv1.ReasonSomeFailed,
				Message: "1 message(s) failed for good: those voters got no code or letter (sms: 2 queued, 0 sent, 1 failed, 0 delivered, 0 bounced); " +
					"`kubectl scrutin delivery` lists them, `kubectl scrutin resend` sends again"}}},
		"all sent": {o: observedState{delivery: &scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: 3}}}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionDelivered, Status: metav1.ConditionTrue, Reason: scrutinv1.ReasonAllSent,
				Message: "every message sent (mail: 0 queued, 3 sent, 0 failed, 0 delivered, 0 bounced)"}}},
		"archived": {o: observedState{archive: &verdict{metav1.ConditionTrue, scrutinv1.ReasonArchived, "Archived to s3://b/k"}},
			want: []metav1.Condition{{Type: scrutinv1.ConditionArchived, Status: metav1.ConditionTrue, Reason: scrutinv1.ReasonArchived, Message: "Archived to s3://b/k"}}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := observedConditions(tc.current, tc.o); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
