package controllers

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
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

// followSchedule moves the election through its phases: it observes the cluster
// and the runtime, lets decide (phase.go) rebuild the phase from what they say,
// gives the runtime the nudges decided (the runtime also opens and closes by
// itself on its schedule, so a late or stopped controller never keeps a vote
// open), fetches the results when asked and decides again with them, then writes
// the decision into the status. It asks to be called again at the exact next
// transition, or at the next change of the voting pods' floor if it comes first.
func (r *ElectionReconciler) followSchedule(ctx context.Context, e *scrutinv1.Election, in *Inputs, provisionErr error) (ctrl.Result, error) {
	now := in.Now // the clock the objects were built with: no floor change falls between
	target := RuntimeTarget{Namespace: in.Namespace, Token: in.Keys.ControlToken}
	errs := []error{provisionErr}

	o := r.observe(ctx, e, in, target, now)
	if o.Runtime != nil {
		o.DeliveryMoved = o.Runtime.Delivery != nil && !equality.Semantic.DeepEqual(o.Runtime.Delivery, e.Status.Delivery)
		setDelivery(in, o.Runtime.Delivery)
		if o.Runtime.Proxies != nil {
			in.Election.Status.Proxies = o.Runtime.Proxies.DeepCopy()
		}
	}
	d := decide(now, e, o)
	if key := (types.NamespacedName{Namespace: e.Namespace, Name: e.Name}); d.WatchDelivery {
		r.deliveries.follow(key, target, e.Status.Delivery)
	} else {
		r.deliveries.forget(key)
	}

	// act: the nudges, then the results when they are due
	acted := true
	if d.OpenRuntime {
		if err := r.Runtime.Open(ctx, target); err != nil {
			in.addProblem(scrutinv1.ReasonRuntimeUnreachable, err.Error())
			acted = false
		}
	}
	if d.CloseRuntime {
		if err := r.Runtime.Close(ctx, target); err != nil {
			in.addProblem(scrutinv1.ReasonRuntimeUnreachable, err.Error())
			acted = false
		}
	}
	if d.FetchResults && acted {
		res, err := r.Runtime.Results(ctx, target)
		switch {
		case err == nil:
			// the phase passes through the first decision's (Closed), with its Event
			if d.Phase != "" {
				setPhase(e, &in.moves, d.Phase, d.PhaseReason, d.PhaseMessage)
			}
			o.Results = res
			d = decide(now, e, o)
		case !errors.Is(err, ErrNotTallied):
			in.addProblem(scrutinv1.ReasonRuntimeUnreachable, err.Error())
		}
	}

	// apply the decision to the status
	if d.Problem.reason != "" {
		in.addProblem(d.Problem.reason, d.Problem.message)
	}
	if d.RecordTurnout && acted && o.Runtime != nil {
		setTurnout(e, o.Runtime.Voters, o.Runtime.BallotsCast)
		e.Status.AuditHead = o.Runtime.AuditHead
	}
	if res := d.Results; res != nil {
		e.Status.Results = res.Results
		e.Status.AuditHead = res.AuditHead
		setTurnout(e, res.Voters, res.BallotsCast)
	}
	for _, c := range d.Conditions {
		setCondition(e, c.Type, c.Status, c.Reason, c.Message)
	}
	if d.Phase != "" {
		setPhase(e, &in.moves, d.Phase, d.PhaseReason, d.PhaseMessage)
	}
	result := ctrl.Result{RequeueAfter: d.RequeueAfter}
	if d.AfterTally {
		if next := r.afterTally(ctx, e, in, now); next != 0 && (result.RequeueAfter == 0 || next < result.RequeueAfter) {
			result.RequeueAfter = next
		}
	}
	setObserved(e, in.observed)
	errs = append(errs, r.setReady(ctx, e, in))
	return result, errors.Join(errs...)
}

// observe reads what decide needs: the runtime's status (pushing the Election's
// schedule to it on the way), unless the election is Tallied. Before the opening,
// only once its pods are available: a runtime not yet started would cost each
// reconcile a timeout. After the close, even when this reconcile could not bring
// every object to its desired state: the runtime's word decides whether a vote
// took place.
func (r *ElectionReconciler) observe(ctx context.Context, e *scrutinv1.Election, in *Inputs, target RuntimeTarget, now time.Time) Observed {
	o := Observed{Phase: e.Status.Phase, Provisioned: in.provisioned, RollValid: in.Roll != nil}
	if phaseAtLeast(e.Status.Phase, scrutinv1.PhaseTallied) {
		return o
	}
	var err error
	switch {
	case in.provisioned && (!now.Before(e.Spec.Schedule.OpensAt.Time) || r.runtimeAvailable(ctx, in)):
		// The runtime follows the schedule its store records: bring it this
		// Election's, without restarting a pod (each pod also re-reads its
		// mounted election file, which the kubelet updates within a minute or two).
		o.Runtime, err = r.pushSchedule(ctx, e, target)
	case !now.Before(e.Spec.Schedule.ClosesAt.Time) && target.Token != "":
		o.Runtime, err = r.Runtime.Status(ctx, target)
	}
	if err != nil {
		o.Runtime, o.RuntimeErr = nil, err.Error()
	}
	return o
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
		r.event(e, corev1.EventTypeNormal, scrutinv1.ReasonRetired, "ScaleDown",
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
// runtime's status (an error when it did not answer). An error of the push itself
// is only logged: the pods' own re-read of their election file is the fallback.
func (r *ElectionReconciler) pushSchedule(ctx context.Context, e *scrutinv1.Election, target RuntimeTarget) (*RuntimeStatus, error) {
	st, err := r.Runtime.Status(ctx, target)
	if err != nil {
		return nil, err
	}
	if st.Closed || st.ScheduleVersion >= e.Generation {
		return st, nil
	}
	err = r.Runtime.SetSchedule(ctx, target, RuntimeSchedule{
		OpensAt: e.Spec.Schedule.OpensAt.Time, ClosesAt: e.Spec.Schedule.ClosesAt.Time, Version: e.Generation,
	})
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("Could not push the schedule to the runtime; its pods will read it from their file", "error", err.Error())
	}
	return st, nil
}

// runtimeAvailable reports whether the election's voting Deployment has pods
// available (from the cache).
func (r *ElectionReconciler) runtimeAvailable(ctx context.Context, in *Inputs) bool {
	var d appsv1.Deployment
	if err := r.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RuntimeName}, &d); err != nil {
		return false
	}
	return d.Status.AvailableReplicas > 0
}

// setReady sets Ready from the problems this reconcile met, the retirement, and
// the voting Deployment as the cache shows it (readyCondition), and the replica
// counts the status shows once the Deployment is available.
func (r *ElectionReconciler) setReady(ctx context.Context, e *scrutinv1.Election, in *Inputs) error {
	o := readyObserved{problems: in.problems, retired: in.Retired}
	if len(in.problems) == 0 && !in.Retired {
		var d appsv1.Deployment
		if err := r.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RuntimeName}, &d); err != nil {
			return client.IgnoreNotFound(err)
		}
		shown := deploymentShown(&d)
		o.deployment = &shown
		if shown.availableCondition == corev1.ConditionTrue {
			e.Status.Replicas, e.Status.ReadyReplicas = d.Status.Replicas, d.Status.ReadyReplicas
		}
	}
	c := readyCondition(o)
	setCondition(e, c.Type, c.Status, c.Reason, c.Message)
	return nil
}

func setTurnout(e *scrutinv1.Election, voters, cast int64) {
	e.Status.BallotsCast = cast
	if voters > 0 {
		e.Status.Voters = voters
		e.Status.Turnout = turnoutOf(voters, cast)
	}
}
