package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

const (
	// turnoutRefresh is how often turnout is read while the election is Open.
	turnoutRefresh = time.Minute
	// resultsRetry is how often results are asked for after the close.
	resultsRetry = 5 * time.Second
	// deliveryRefresh is how often delivery counts are read while messages wait.
	deliveryRefresh = 30 * time.Second
)

var phaseOrder = map[scrutinv1.Phase]int{
	scrutinv1.PhasePending: 0, scrutinv1.PhaseProvisioning: 1, scrutinv1.PhaseScheduled: 2,
	scrutinv1.PhaseOpen: 3, scrutinv1.PhaseClosed: 4, scrutinv1.PhaseTallied: 5,
}

// phaseAtLeast reports whether p is at or past min in the election's life.
func phaseAtLeast(p, min scrutinv1.Phase) bool {
	o, ok := phaseOrder[p]
	return ok && o >= phaseOrder[min]
}

// followSchedule moves the election through its phases by the clock and asks to be
// called again at the exact next transition, or at the next change of the voting
// pods' floor if it comes first. The runtime enforces the schedule by itself too, so
// a late or stopped controller never keeps a vote open.
func (r *ElectionReconciler) followSchedule(ctx context.Context, e *scrutinv1.Election, in *Inputs, provisionErr error) (ctrl.Result, error) {
	now := in.Now // the clock the objects were built with: no floor change falls between
	opens, closes := e.Spec.Schedule.OpensAt.Time, e.Spec.Schedule.ClosesAt.Time
	target := RuntimeTarget{Namespace: in.Namespace, Token: in.Keys.ControlToken}
	errs := []error{provisionErr}
	var result ctrl.Result

	// The runtime follows the schedule its store records: bring it this
	// Election's, without restarting a pod (each pod also re-reads its mounted
	// election file, which the kubelet updates within a minute or two).
	// Before the opening, only once its pods are available: a runtime not yet
	// started would cost each reconcile a timeout.
	var st *RuntimeStatus
	if in.provisioned && !phaseAtLeast(e.Status.Phase, scrutinv1.PhaseTallied) &&
		(!now.Before(opens) || r.runtimeAvailable(ctx, in)) {
		st = r.pushSchedule(ctx, e, target)
	}
	if st != nil {
		r.setDelivery(e, st.Delivery)
	}
	// The phase never moves backwards: once Closed, whatever the schedule says
	// (a closesAt moved after the close, which admission refuses anyway), the
	// election stays closed and the runtime's store, which refuses every ballot
	// after its close, decides.
	closed := phaseAtLeast(e.Status.Phase, scrutinv1.PhaseClosed)

	switch {
	case !closed && now.Before(opens) && !phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen):
		if in.provisioned && in.Roll != nil {
			r.setPhase(e, scrutinv1.PhaseScheduled, "Provisioned",
				fmt.Sprintf("Namespace %s is ready; the election opens at %s", in.Namespace, opens.UTC().Format(time.RFC3339)))
		}
		setCondition(e, scrutinv1.ConditionOpen, metav1.ConditionFalse, "NotYetOpen", "Opens at "+opens.UTC().Format(time.RFC3339))
		result.RequeueAfter = opens.Sub(now)

	case !closed && now.Before(closes):
		if in.Roll == nil {
			// No valid roll: the runtime has none and cannot open.
			setCondition(e, scrutinv1.ConditionOpen, metav1.ConditionFalse, "RollInvalid", "The election cannot open until its roll is valid")
		} else {
			r.setPhase(e, scrutinv1.PhaseOpen, "Opened", "The election is open until "+closes.UTC().Format(time.RFC3339))
			setCondition(e, scrutinv1.ConditionOpen, metav1.ConditionTrue, "Opened", "Open until "+closes.UTC().Format(time.RFC3339))
			if err := r.Runtime.Open(ctx, target); err != nil {
				in.addProblem("RuntimeUnreachable", err.Error())
			} else if st, err := r.Runtime.Status(ctx, target); err == nil {
				setTurnout(e, st.Voters, st.BallotsCast)
				e.Status.AuditHead = st.AuditHead
				r.setDelivery(e, st.Delivery)
			}
		}
		result.RequeueAfter = min(closes.Sub(now), turnoutRefresh)

	default:
		if !phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
			r.setPhase(e, scrutinv1.PhaseFailed, "NeverOpened", "The closing time passed and the election never opened")
			break
		}
		setCondition(e, scrutinv1.ConditionOpen, metav1.ConditionFalse, "Closed", "Closed at "+closes.UTC().Format(time.RFC3339))
		if e.Status.Phase == scrutinv1.PhaseTallied {
			result.RequeueAfter = r.afterTally(ctx, e, in, now)
			break
		}
		r.setPhase(e, scrutinv1.PhaseClosed, "Closed", "The election closed; counting")
		if err := r.Runtime.Close(ctx, target); err != nil {
			in.addProblem("RuntimeUnreachable", err.Error())
			result.RequeueAfter = resultsRetry
			break
		}
		res, err := r.Runtime.Results(ctx, target)
		if err != nil {
			if !errors.Is(err, ErrNotTallied) {
				in.addProblem("RuntimeUnreachable", err.Error())
			}
			setCondition(e, scrutinv1.ConditionTallied, metav1.ConditionFalse, "Counting", "Waiting for the tally")
			result.RequeueAfter = resultsRetry
			break
		}
		e.Status.Results = res.Results
		e.Status.AuditHead = res.AuditHead
		setTurnout(e, res.Voters, res.BallotsCast)
		setCondition(e, scrutinv1.ConditionTallied, metav1.ConditionTrue, "Tallied",
			fmt.Sprintf("%d ballots counted (%s turnout)", res.BallotsCast, e.Status.Turnout))
		r.setPhase(e, scrutinv1.PhaseTallied, "Tallied", "Results are in status.results")
		result.RequeueAfter = r.afterTally(ctx, e, in, now)
	}

	// delivery counts are refreshed while the runtime runs: often while
	// messages wait, every minute otherwise
	if st != nil && !phaseAtLeast(e.Status.Phase, scrutinv1.PhaseClosed) {
		d := turnoutRefresh
		if queued, _ := deliveryTotals(e.Status.Delivery); queued > 0 {
			d = deliveryRefresh
		}
		if result.RequeueAfter == 0 || d < result.RequeueAfter {
			result.RequeueAfter = d
		}
	}
	if _, _, next := effectiveMinReplicas(&e.Spec, now); !next.IsZero() {
		if d := next.Sub(now); result.RequeueAfter == 0 || d < result.RequeueAfter {
			result.RequeueAfter = d
		}
	}
	errs = append(errs, r.setReady(ctx, e, in))
	return result, errors.Join(errs...)
}

// afterTally archives the election's records (once) and records its runtime's
// retirement, and returns when to look again: the next archive attempt, or the
// end of retention.keepRunningFor.
func (r *ElectionReconciler) afterTally(ctx context.Context, e *scrutinv1.Election, in *Inputs, now time.Time) time.Duration {
	var next time.Duration
	if in.provisioned {
		next = r.archive(ctx, e, in)
	}
	if in.Retired && in.provisioned && !e.Status.Retired {
		e.Status.Retired = true
		r.event(e, corev1.EventTypeNormal, "Retired", "ScaleDown",
			"The voting-runtime was scaled to zero at the end of retention.keepRunningFor; its store is kept")
	}
	if at := retireAt(e); !at.IsZero() && !e.Status.Retired && next == 0 {
		// at the end of keepRunningFor; at once when it is past and the archive just landed
		next = max(at.Sub(now), time.Second)
	}
	return next
}

// pushSchedule sends the runtime the Election's schedule when its store records an
// older version (the Election's generation) and has not closed, and returns the
// runtime's status (nil when it did not answer). Errors are left to the open and
// close calls to report; the pods' own re-read of their election file is the
// fallback.
func (r *ElectionReconciler) pushSchedule(ctx context.Context, e *scrutinv1.Election, target RuntimeTarget) *RuntimeStatus {
	st, err := r.Runtime.Status(ctx, target)
	if err != nil {
		return nil
	}
	if st.Closed || st.ScheduleVersion >= e.Generation {
		return st
	}
	err = r.Runtime.SetSchedule(ctx, target, RuntimeSchedule{
		OpensAt: e.Spec.Schedule.OpensAt.Time, ClosesAt: e.Spec.Schedule.ClosesAt.Time, Version: e.Generation,
	})
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Could not push the schedule to the runtime; its pods will read it from their file", "error", err.Error())
	}
	return st
}

// runtimeAvailable reports whether the election's voting Deployment has pods
// available (from the cache).
func (r *ElectionReconciler) runtimeAvailable(ctx context.Context, in *Inputs) bool {
	var d appsv1.Deployment
	if err := r.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: RuntimeName}, &d); err != nil {
		return false
	}
	return d.Status.AvailableReplicas > 0
}

// setReady: Ready is True when every object is applied, nothing keeps the election
// from working, and its runtime answers.
func (r *ElectionReconciler) setReady(ctx context.Context, e *scrutinv1.Election, in *Inputs) error {
	if len(in.problems) > 0 {
		p := in.problems[0]
		r.setConditionWithEvent(e, scrutinv1.ConditionReady, metav1.ConditionFalse, p.reason, p.message)
		return nil
	}
	if in.Retired {
		r.setConditionWithEvent(e, scrutinv1.ConditionReady, metav1.ConditionTrue, "Retired",
			"The voting-runtime is scaled to zero at the end of retention.keepRunningFor; its store is kept")
		return nil
	}
	var d appsv1.Deployment
	if err := r.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: RuntimeName}, &d); err != nil {
		return client.IgnoreNotFound(err)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			r.setConditionWithEvent(e, scrutinv1.ConditionReady, metav1.ConditionTrue, "RuntimeAvailable",
				fmt.Sprintf("%d of %d voting pods ready", d.Status.ReadyReplicas, d.Status.Replicas))
			return nil
		}
	}
	setCondition(e, scrutinv1.ConditionReady, metav1.ConditionFalse, "RuntimeStarting", "Waiting for the voting pods to be available")
	return nil
}

func setTurnout(e *scrutinv1.Election, voters, cast int64) {
	e.Status.BallotsCast = cast
	if voters > 0 {
		e.Status.Voters = voters
		e.Status.Turnout = fmt.Sprintf("%.1f%%", 100*float64(cast)/float64(voters))
	}
}
