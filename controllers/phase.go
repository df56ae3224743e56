package controllers

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// The election's phase machine. decide is pure: it reads the clock it is given,
// the Election and what the cluster and the runtime said (Observed), and returns
// the phase, the Open and Tallied conditions, what to ask the runtime and when to
// look again (Decision). followSchedule does the reading and the asking around it.
//
// The phase is rebuilt from the world at every reconcile: the runtime opens and
// closes by itself on the schedule its store records, so a controller that was
// down through the opening, the close or the whole window learns from the
// runtime's store whether a vote took place, and collects its results.

// Observed is what the cluster and the election's runtime say, read once per
// reconcile.
type Observed struct {
	// Phase is status.phase as last written. It is only a floor: the phase never
	// moves backwards, because a phase once reported may have been acted on (a
	// voter told the vote is open, a tool waiting for Closed), and because a
	// runtime that stops answering must not undo what it said before. It is
	// never taken as proof that a step did not happen: the runtime's word is.
	Phase scrutinv1.Phase
	// Provisioned: every object of the election was applied in this reconcile.
	Provisioned bool
	// RollValid: the roll was read and is valid.
	RollValid bool
	// Runtime is the runtime's control status, nil when it was not asked or did
	// not answer (RuntimeErr then says why, when it was asked).
	Runtime    *RuntimeStatus
	RuntimeErr string
	// DeliveryMoved: the runtime's delivery counts differ from those the
	// status held (messages sent, delivered or bounced since the last read).
	DeliveryMoved bool
	// Results are the runtime's results when they were fetched.
	Results *RuntimeResults
}

// ConditionChange is a condition decide sets.
type ConditionChange struct {
	Type    string
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// Decision is what decide concludes.
type Decision struct {
	// Phase is the phase to move to ("" keeps the current one), with the
	// reason and message of its Event.
	Phase        scrutinv1.Phase
	PhaseReason  string
	PhaseMessage string
	// Conditions are the Open and Tallied conditions to set.
	Conditions []ConditionChange
	// Problem keeps the election from being Ready (Reason "" when none).
	Problem problem
	// Nudges for the runtime, which also opens and closes by itself; and
	// whether to fetch the results (decide again once they are in).
	OpenRuntime, CloseRuntime, FetchResults bool
	// RecordTurnout: copy the runtime's counts and audit head into the status.
	RecordTurnout bool
	// WatchDelivery: the election waits for its opening with its delivery
	// counts still, so no wake-up is set for them; the delivery watch
	// (delivery_watch.go) reads its runtime and brings it back when they move.
	WatchDelivery bool
	// Results to record in the status (the phase is then Tallied).
	Results *RuntimeResults
	// AfterTally: archive and retire (afterTally), which gives its own wake-up.
	AfterTally bool
	// RequeueAfter is the next wake-up (0: none): the next transition of the
	// schedule, the turnout or delivery refresh, the results retry, or the next
	// change of the voting pods' floor, whichever comes first.
	RequeueAfter time.Duration
}

// decide is the phase machine; see the top of this file.
func decide(now time.Time, e *scrutinv1.Election, o Observed) Decision {
	opens, closes := e.Spec.Schedule.OpensAt.Time, e.Spec.Schedule.ClosesAt.Time
	st := o.Runtime
	var d Decision
	// The runtime's store is the world: its opening or close counts even when
	// this controller's clock has not reached opensAt or closesAt yet (clocks
	// differ by a little).
	closed := phaseAtLeast(o.Phase, scrutinv1.PhaseClosed) || !now.Before(closes) || (st != nil && st.Closed)
	opened := phaseAtLeast(o.Phase, scrutinv1.PhaseOpen) || !now.Before(opens) || (st != nil && st.Opened)

	switch {
	case phaseAtLeast(o.Phase, scrutinv1.PhaseTallied):
		d.condition(scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonClosed, "Closed at "+stamp(closes))
		d.AfterTally = true

	case closed:
		decideAfterClose(&d, e, o, closes)

	case opened:
		if !o.RollValid {
			// No valid roll: the runtime has none and cannot open.
			d.condition(scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonRollInvalid, "The election cannot open until its roll is valid")
		} else {
			d.phase(scrutinv1.PhaseOpen, scrutinv1.ReasonOpened, "The election is open until "+stamp(closes))
			d.condition(scrutinv1.ConditionOpen, metav1.ConditionTrue, scrutinv1.ReasonOpened, "Open until "+stamp(closes))
			d.OpenRuntime = st == nil || !st.Opened
			d.RecordTurnout = true
		}
		d.RequeueAfter = min(closes.Sub(now), turnoutRefresh)

	default:
		if o.Provisioned && o.RollValid {
			d.phase(scrutinv1.PhaseScheduled, scrutinv1.ReasonProvisioned,
				fmt.Sprintf("Namespace %s is ready; the election opens at %s", specs.NamespaceName(e), stamp(opens)))
		}
		d.condition(scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonNotYetOpen, "Opens at "+stamp(opens))
		d.RequeueAfter = opens.Sub(now)
	}

	// Delivery counts are refreshed while they can change by themselves: often
	// while messages wait, every minute while reports still arrive (the last
	// read moved them). Once they hold still before the opening, no wake-up is
	// set for them (a reconcile a minute per Election keeps a manager of 10,000
	// Elections busy for good): the delivery watch follows the runtime instead.
	// While the election is Open, turnout is read every minute, the counts
	// with it.
	if st != nil && !phaseAtLeast(d.phaseOr(o.Phase), scrutinv1.PhaseClosed) {
		delivery := st.Delivery
		if delivery == nil {
			delivery = e.Status.Delivery
		}
		switch queued, _ := deliveryTotals(delivery); {
		case queued > 0:
			d.wakeWithin(deliveryRefresh)
		case o.DeliveryMoved:
			d.wakeWithin(turnoutRefresh)
		case !opened && !closed:
			d.WatchDelivery = true
		}
	}
	if _, _, next := specs.EffectiveMinReplicas(&e.Spec, now); !next.IsZero() {
		d.wakeWithin(next.Sub(now))
	}
	return d
}

// decideAfterClose: past the close, the runtime's store says whether a vote took
// place. The election Failed only when no vote could have happened: the runtime
// closed without ever opening, or there never was a runtime to open (not
// provisioned, or no valid roll, and no runtime answering).
func decideAfterClose(d *Decision, e *scrutinv1.Election, o Observed, closes time.Time) {
	st := o.Runtime
	d.condition(scrutinv1.ConditionOpen, metav1.ConditionFalse, scrutinv1.ReasonClosed, "Closed at "+stamp(closes))
	voted := phaseAtLeast(o.Phase, scrutinv1.PhaseOpen) || (st != nil && st.Opened)

	switch {
	case o.Results != nil:
		res := o.Results
		turnout := e.Status.Turnout
		if res.Voters > 0 {
			turnout = turnoutOf(res.Voters, res.BallotsCast)
		}
		d.Results = res
		d.condition(scrutinv1.ConditionTallied, metav1.ConditionTrue, scrutinv1.ReasonTallied,
			fmt.Sprintf("%d ballots counted (%s turnout)", res.BallotsCast, turnout))
		d.phase(scrutinv1.PhaseTallied, scrutinv1.ReasonTallied, "Results are in status.results")
		d.AfterTally = true

	case !voted && st != nil && st.Closed:
		d.phase(scrutinv1.PhaseFailed, scrutinv1.ReasonNeverOpened, "The closing time passed and the election never opened")

	case !voted && st == nil && (!o.Provisioned || !o.RollValid):
		// no runtime answers, and none could have run the vote
		d.phase(scrutinv1.PhaseFailed, scrutinv1.ReasonNeverOpened, "The closing time passed and the election never opened")

	case !voted && st == nil:
		// the runtime may have run the vote: wait for its word
		d.Problem = problem{scrutinv1.ReasonRuntimeUnreachable, "The closing time passed; waiting for the voting runtime to say whether the election opened" + because(o.RuntimeErr)}
		d.RequeueAfter = resultsRetry

	case !voted:
		// it has not recorded its close yet; it closes by itself, the nudge hastens it
		d.CloseRuntime = true
		d.RequeueAfter = resultsRetry

	default:
		d.phase(scrutinv1.PhaseClosed, scrutinv1.ReasonClosed, "The election closed; counting")
		msg := "Waiting for the tally"
		if st != nil && st.Tallied {
			msg = "The runtime has counted; reading its results"
		}
		d.condition(scrutinv1.ConditionTallied, metav1.ConditionFalse, scrutinv1.ReasonCounting, msg)
		d.CloseRuntime = st == nil || !st.Closed
		d.FetchResults = true
		if st == nil {
			d.Problem = problem{scrutinv1.ReasonRuntimeUnreachable, "The voting runtime did not answer" + because(o.RuntimeErr)}
		}
		d.RequeueAfter = resultsRetry
	}
}

func (d *Decision) phase(p scrutinv1.Phase, reason, message string) {
	d.Phase, d.PhaseReason, d.PhaseMessage = p, reason, message
}

// phaseOr is the phase after the decision: its own, or current when it keeps it
// (or when its own would move backwards).
func (d *Decision) phaseOr(current scrutinv1.Phase) scrutinv1.Phase {
	if d.Phase == "" || phaseAtLeast(current, d.Phase) {
		return current
	}
	return d.Phase
}

func (d *Decision) condition(typ string, status metav1.ConditionStatus, reason, message string) {
	d.Conditions = append(d.Conditions, ConditionChange{Type: typ, Status: status, Reason: reason, Message: message})
}

// wakeWithin brings the next wake-up to at most after.
func (d *Decision) wakeWithin(after time.Duration) {
	if d.RequeueAfter == 0 || after < d.RequeueAfter {
		d.RequeueAfter = after
	}
}

// because appends a cause to a message, when there is one.
func because(cause string) string {
	if cause == "" {
		return ""
	}
	return ": " + cause
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// turnoutOf is the turnout as the status shows it.
func turnoutOf(voters, cast int64) string {
	return fmt.Sprintf("%.1f%%", 100*float64(cast)/float64(voters))
}
