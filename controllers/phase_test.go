package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// TestDecide: the phase machine, from the clock, the Election and what the cluster
// and the runtime say; no API server, no runtime.
func TestDecide(t *testing.T) {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	closes := opens.Add(2 * time.Hour)
	before, during, after := opens.Add(-time.Hour), opens.Add(30*time.Minute), closes.Add(time.Minute)

	// runtime statuses
	idle := &RuntimeStatus{Voters: 4}
	queued := &RuntimeStatus{Voters: 4, Delivery: &scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Queued: 2}}}}
	opened := &RuntimeStatus{Open: true, Opened: true, Voters: 4, BallotsCast: 1}
	openedNotClosed := &RuntimeStatus{Opened: true, Voters: 4, BallotsCast: 3}
	ranTheVote := &RuntimeStatus{Opened: true, Closed: true, Tallied: true, Voters: 4, BallotsCast: 3}
	closedUnopened := &RuntimeStatus{Closed: true, Tallied: true, Voters: 4}
	neverOpenedYet := &RuntimeStatus{Voters: 4}
	sent := &RuntimeStatus{Voters: 4, Delivery: &scrutinv1.DeliveryStatus{Channels: []scrutinv1.ChannelDelivery{{Channel: "mail", Sent: 4, Delivered: 3}}}}
	results := &RuntimeResults{Voters: 4, BallotsCast: 3, AuditHead: "sha256:t"}

	ready := func(phase scrutinv1.Phase, st *RuntimeStatus) Observed {
		return Observed{Phase: phase, Provisioned: true, RollValid: true, Runtime: st}
	}
	unanswered := func(phase scrutinv1.Phase) Observed {
		o := ready(phase, nil)
		o.RuntimeErr = "runtime unreachable: connection refused"
		return o
	}
	withResults := func(o Observed) Observed { o.Results = results; return o }
	moved := func(o Observed) Observed { o.DeliveryMoved = true; return o }

	type want struct {
		phase        scrutinv1.Phase
		reason       string
		open         string // the Open condition's reason ("" when not set)
		tallied      string // the Tallied condition's reason ("" when not set)
		problem      string
		openRT       bool
		closeRT      bool
		fetch        bool
		turnout      bool
		results      bool
		afterTally   bool
		watch        bool // the delivery watch follows it
		requeueAfter time.Duration
	}
	tests := map[string]struct {
		now      time.Time
		observed Observed
		scaling  scrutinv1.Scaling
		want     want
	}{
		"before the opening, not provisioned: no phase, wake at the opening": {
			now: before, observed: Observed{Phase: scrutinv1.PhaseProvisioning},
			want: want{open: "NotYetOpen", requeueAfter: time.Hour},
		},
		"before the opening, provisioned, pods not available: Scheduled": {
			now: before, observed: ready(scrutinv1.PhaseProvisioning, nil),
			want: want{phase: scrutinv1.PhaseScheduled, reason: "Provisioned", open: "NotYetOpen", requeueAfter: time.Hour},
		},
		"before the opening, provisioned, no valid roll: not Scheduled": {
			now: before, observed: Observed{Phase: scrutinv1.PhaseProvisioning, Provisioned: true},
			want: want{open: "NotYetOpen", requeueAfter: time.Hour},
		},
		"before the opening, the runtime answers, counts still: the watch follows, wake at the opening": {
			now: before, observed: ready(scrutinv1.PhaseScheduled, idle),
			want: want{phase: scrutinv1.PhaseScheduled, reason: "Provisioned", open: "NotYetOpen", watch: true, requeueAfter: time.Hour},
		},
		"before the opening, nothing queued, counts moved: refresh in a minute": {
			now: before, observed: moved(ready(scrutinv1.PhaseScheduled, sent)),
			want: want{phase: scrutinv1.PhaseScheduled, reason: "Provisioned", open: "NotYetOpen", requeueAfter: turnoutRefresh},
		},
		"before the opening, sent and delivered, counts still: the watch follows": {
			now: before, observed: ready(scrutinv1.PhaseScheduled, sent),
			want: want{phase: scrutinv1.PhaseScheduled, reason: "Provisioned", open: "NotYetOpen", watch: true, requeueAfter: time.Hour},
		},
		"before the opening, messages queued: delivery refresh": {
			now: before, observed: ready(scrutinv1.PhaseScheduled, queued),
			want: want{phase: scrutinv1.PhaseScheduled, reason: "Provisioned", open: "NotYetOpen", requeueAfter: deliveryRefresh},
		},
		"before the opening, the opening's floor is raised first": {
			now: before, observed: ready(scrutinv1.PhaseScheduled, nil), scaling: scrutinv1.Scaling{OpeningMinReplicas: ptr.To[int32](4)},
			want: want{phase: scrutinv1.PhaseScheduled, reason: "Provisioned", open: "NotYetOpen", requeueAfter: 50 * time.Minute},
		},
		"before the opening by this clock, the runtime's store opened: Open": {
			now: opens.Add(-time.Second), observed: ready(scrutinv1.PhaseScheduled, opened),
			want: want{phase: scrutinv1.PhaseOpen, reason: "Opened", open: "Opened", turnout: true, requeueAfter: turnoutRefresh},
		},
		"in the window, the runtime did not answer: Open, nudge it": {
			now: during, observed: unanswered(scrutinv1.PhaseScheduled),
			want: want{phase: scrutinv1.PhaseOpen, reason: "Opened", open: "Opened", openRT: true, turnout: true, requeueAfter: turnoutRefresh},
		},
		"in the window, not yet opened in the store: nudge it": {
			now: during, observed: ready(scrutinv1.PhaseScheduled, neverOpenedYet),
			want: want{phase: scrutinv1.PhaseOpen, reason: "Opened", open: "Opened", openRT: true, turnout: true, requeueAfter: turnoutRefresh},
		},
		"in the window, opened in the store: no nudge": {
			now: during, observed: ready(scrutinv1.PhaseOpen, opened),
			want: want{phase: scrutinv1.PhaseOpen, reason: "Opened", open: "Opened", turnout: true, requeueAfter: turnoutRefresh},
		},
		"in the window, 20 s before the close: wake at the close": {
			now: closes.Add(-20 * time.Second), observed: ready(scrutinv1.PhaseOpen, opened),
			want: want{phase: scrutinv1.PhaseOpen, reason: "Opened", open: "Opened", turnout: true, requeueAfter: 20 * time.Second},
		},
		"in the window, no valid roll: cannot open": {
			now: during, observed: Observed{Phase: scrutinv1.PhaseScheduled, Provisioned: true},
			want: want{open: "RollInvalid", requeueAfter: turnoutRefresh},
		},
		"in the window by this clock, the runtime's store closed: count": {
			now: closes.Add(-time.Second), observed: ready(scrutinv1.PhaseOpen, ranTheVote),
			want: want{phase: scrutinv1.PhaseClosed, reason: "Closed", open: "Closed", tallied: "Counting", fetch: true, requeueAfter: resultsRetry},
		},
		"after the close, seen open, the runtime did not answer: close, wait, retry": {
			now: after, observed: unanswered(scrutinv1.PhaseOpen),
			want: want{phase: scrutinv1.PhaseClosed, reason: "Closed", open: "Closed", tallied: "Counting", problem: "RuntimeUnreachable",
				closeRT: true, fetch: true, requeueAfter: resultsRetry},
		},
		"after the close, seen open, the store not closed yet: nudge the close": {
			now: after, observed: ready(scrutinv1.PhaseOpen, openedNotClosed),
			want: want{phase: scrutinv1.PhaseClosed, reason: "Closed", open: "Closed", tallied: "Counting", closeRT: true, fetch: true, requeueAfter: resultsRetry},
		},
		"after the close, down through the window, the runtime ran the vote: fetch": {
			now: after, observed: ready(scrutinv1.PhaseScheduled, ranTheVote),
			want: want{phase: scrutinv1.PhaseClosed, reason: "Closed", open: "Closed", tallied: "Counting", fetch: true, requeueAfter: resultsRetry},
		},
		"after the close, down through the window, with the results: Tallied": {
			now: after, observed: withResults(ready(scrutinv1.PhaseScheduled, ranTheVote)),
			want: want{phase: scrutinv1.PhaseTallied, reason: "Tallied", open: "Closed", tallied: "Tallied", results: true, afterTally: true},
		},
		"after the close, down through the close, with the results: Tallied": {
			now: after, observed: withResults(ready(scrutinv1.PhaseOpen, ranTheVote)),
			want: want{phase: scrutinv1.PhaseTallied, reason: "Tallied", open: "Closed", tallied: "Tallied", results: true, afterTally: true},
		},
		"after the close, Failed before, the runtime ran the vote: Tallied": {
			now: after, observed: withResults(ready(scrutinv1.PhaseFailed, ranTheVote)),
			want: want{phase: scrutinv1.PhaseTallied, reason: "Tallied", open: "Closed", tallied: "Tallied", results: true, afterTally: true},
		},
		"after the close, the roll invalid now, the runtime ran the vote: count": {
			now: after, observed: Observed{Phase: scrutinv1.PhaseScheduled, Provisioned: true, Runtime: ranTheVote},
			want: want{phase: scrutinv1.PhaseClosed, reason: "Closed", open: "Closed", tallied: "Counting", fetch: true, requeueAfter: resultsRetry},
		},
		"after the close, the store closed without opening: Failed, counts still: no wake": {
			now: after, observed: ready(scrutinv1.PhaseScheduled, closedUnopened),
			want: want{phase: scrutinv1.PhaseFailed, reason: "NeverOpened", open: "Closed"},
		},
		"after the close, the store closed without opening: Failed, counts still moving: read again": {
			now: after, observed: moved(ready(scrutinv1.PhaseScheduled, closedUnopened)),
			want: want{phase: scrutinv1.PhaseFailed, reason: "NeverOpened", open: "Closed", requeueAfter: turnoutRefresh},
		},
		"after the close, the store neither opened nor closed yet: nudge the close, wait": {
			now: after, observed: ready(scrutinv1.PhaseScheduled, neverOpenedYet),
			want: want{open: "Closed", closeRT: true, requeueAfter: resultsRetry},
		},
		"after the close, not seen open, the runtime did not answer: wait, not Failed": {
			now: after, observed: unanswered(scrutinv1.PhaseScheduled),
			want: want{open: "Closed", problem: "RuntimeUnreachable", requeueAfter: resultsRetry},
		},
		"after the close, never provisioned, no runtime: Failed": {
			now: after, observed: Observed{Phase: scrutinv1.PhaseProvisioning, RollValid: true},
			want: want{phase: scrutinv1.PhaseFailed, reason: "NeverOpened", open: "Closed"},
		},
		"after the close, no valid roll, no runtime: Failed": {
			now: after, observed: Observed{Phase: scrutinv1.PhaseProvisioning, Provisioned: true},
			want: want{phase: scrutinv1.PhaseFailed, reason: "NeverOpened", open: "Closed"},
		},
		"Tallied: archive and retire, nothing asked of the runtime": {
			now: after, observed: ready(scrutinv1.PhaseTallied, nil),
			want: want{open: "Closed", afterTally: true},
		},
		"floor: Closed stays closed when the clock says the window (closesAt moved)": {
			now: during, observed: ready(scrutinv1.PhaseClosed, nil),
			want: want{phase: scrutinv1.PhaseClosed, reason: "Closed", open: "Closed", tallied: "Counting", problem: "RuntimeUnreachable",
				closeRT: true, fetch: true, requeueAfter: resultsRetry},
		},
		"floor: Open stays open when the clock says before the opening (opensAt moved)": {
			now: before, observed: ready(scrutinv1.PhaseOpen, opened),
			want: want{phase: scrutinv1.PhaseOpen, reason: "Opened", open: "Opened", turnout: true, requeueAfter: turnoutRefresh},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := &scrutinv1.Election{
				ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board"},
				Spec: scrutinv1.ElectionSpec{
					Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(closes)},
					Scaling:  tc.scaling,
				},
			}
			d := decide(tc.now, e, tc.observed)
			got := want{
				phase: d.Phase, reason: d.PhaseReason, problem: d.Problem.reason,
				openRT: d.OpenRuntime, closeRT: d.CloseRuntime, fetch: d.FetchResults, turnout: d.RecordTurnout,
				results: d.Results != nil, afterTally: d.AfterTally, watch: d.WatchDelivery, requeueAfter: d.RequeueAfter,
			}
			for _, c := range d.Conditions {
				switch c.Type {
				case scrutinv1.ConditionOpen:
					got.open = c.Reason
				case scrutinv1.ConditionTallied:
					got.tallied = c.Reason
				default:
					t.Errorf("decide set the %s condition", c.Type)
				}
			}
			if got != tc.want {
				t.Errorf("decide:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestDecideMessages: the phase and condition messages name the times and counts
// a person needs.
func TestDecideMessages(t *testing.T) {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	closes := opens.Add(2 * time.Hour)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board"},
		Spec:       scrutinv1.ElectionSpec{Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(closes)}},
	}
	d := decide(opens.Add(-time.Hour), e, Observed{Provisioned: true, RollValid: true})
	if want := "Namespace " + specs.NamespaceName(e) + " is ready; the election opens at 2030-05-01T08:00:00Z"; d.PhaseMessage != want {
		t.Errorf("Scheduled: %q, want %q", d.PhaseMessage, want)
	}
	d = decide(closes.Add(time.Minute), e, Observed{Phase: scrutinv1.PhaseOpen, Provisioned: true, RollValid: true,
		Runtime: &RuntimeStatus{Opened: true, Closed: true, Tallied: true}, Results: &RuntimeResults{Voters: 4, BallotsCast: 3}})
	var tallied ConditionChange
	for _, c := range d.Conditions {
		if c.Type == scrutinv1.ConditionTallied {
			tallied = c
		}
	}
	if tallied.Status != metav1.ConditionTrue || tallied.Message != "3 ballots counted (75.0% turnout)" {
		t.Errorf("Tallied condition: %+v", tallied)
	}
	d = decide(closes.Add(time.Minute), e, Observed{Phase: scrutinv1.PhaseScheduled, Provisioned: true, RollValid: true,
		RuntimeErr: "runtime unreachable: connection refused"})
	if want := "The closing time passed; waiting for the voting runtime to say whether the election opened: runtime unreachable: connection refused"; d.Problem.message != want {
		t.Errorf("problem: %q, want %q", d.Problem.message, want)
	}
}
