package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// The Election's status and the Events that announce it, in one place.
//
// A reconcile changes the status of its copy of the Election in memory: the
// phase (setPhase, which keeps the reason and message of each move), the
// conditions, the counts. Each condition is computed from what was observed, by
// one function: Open and Tallied by the phase machine (decide, phase.go);
// RollValid, RuntimeUpToDate, Delivered and Archived from what the steps saw
// (observedConditions); Ready from the problems met and the voting Deployment
// (readyCondition). Nothing is
// announced while it works. At its end writeStatus patches the status onto a
// fresh copy of the Election, and only once it is written does announce emit one
// Event per transition between the status read at the start and the status
// written: each move of the phase, with the reason its step gave, and each
// condition whose status or reason changed, with the condition's reason. A
// state that repeats at every reconcile (a conflict that waits for a person, a
// database that does not answer) is therefore announced once, when it begins,
// and a state that was never written is never announced. Events of things the
// controller did, which no condition records (a namespace deleted, the floor of
// the voting pods raised, keys made again), are emitted where they are done, once.

// phaseNote is a move of the phase in this reconcile, with the reason and message
// of its Event.
type phaseNote struct {
	phase           scrutinv1.Phase
	reason, message string
}

// writeStatus patches e.Status onto a fresh copy of the Election when it differs
// from before (the status read at the start of the reconcile), re-reading and
// patching again on conflict, then announces the transitions. observedGeneration
// always says which spec the status describes. Nothing is announced when the
// status could not be written: the next reconcile finds the same transitions.
func (r *ElectionReconciler) writeStatus(ctx context.Context, e *scrutinv1.Election, before *scrutinv1.ElectionStatus, moves []phaseNote) error {
	e.Status.ObservedGeneration = e.Generation
	if equality.Semantic.DeepEqual(before, &e.Status) {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur scrutinv1.Election
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
			return err
		}
		if equality.Semantic.DeepEqual(cur.Status, e.Status) {
			return nil
		}
		patch := client.MergeFromWithOptions(cur.DeepCopy(), client.MergeFromWithOptimisticLock{})
		cur.Status = e.Status
		return r.Status().Patch(ctx, &cur, patch)
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("while writing the status: %w", err)
	}
	r.announce(e, before, moves)
	return nil
}

// announce emits the Events of the transitions from before to e.Status (see the
// top of this file).
func (r *ElectionReconciler) announce(e *scrutinv1.Election, before *scrutinv1.ElectionStatus, moves []phaseNote) {
	var said []string // reasons announced by a move of the phase: not said twice
	if e.Status.Phase != before.Phase {
		for _, m := range moves {
			if m.phase == before.Phase {
				continue
			}
			eventType := corev1.EventTypeNormal
			if m.phase == scrutinv1.PhaseFailed {
				eventType = corev1.EventTypeWarning
			}
			r.event(e, eventType, m.reason, string(m.phase), m.message)
			said = append(said, m.reason)
		}
	}
	for _, c := range e.Status.Conditions {
		old := meta.FindStatusCondition(before.Conditions, c.Type)
		changed := old == nil || old.Status != c.Status || old.Reason != c.Reason
		if c.Type == scrutinv1.ConditionRuntimeUpToDate && c.Status == metav1.ConditionFalse &&
			pendingTemplate(before) != pendingTemplate(&e.Status) {
			changed = true // another image held back, for the same reason
		}
		if !changed || quietCondition(c) || slices.Contains(said, c.Reason) {
			continue
		}
		eventType := corev1.EventTypeNormal
		if c.Status == metav1.ConditionFalse && !slices.Contains(progressReasons, c.Reason) {
			eventType = corev1.EventTypeWarning
		}
		r.event(e, eventType, c.Reason, c.Type, c.Message)
	}
}

func pendingTemplate(s *scrutinv1.ElectionStatus) string {
	if s.Runtime == nil {
		return ""
	}
	return s.Runtime.PendingTemplateHash
}

// quietCondition: the condition states that are not news. The Open and Tallied
// conditions mirror the phase, whose own Events say when the vote opens, closes
// and is counted; the others are steps on the way to a state that is announced.
func quietCondition(c metav1.Condition) bool {
	switch c.Type {
	case scrutinv1.ConditionOpen, scrutinv1.ConditionTallied:
		return true
	}
	switch c.Reason {
	case scrutinv1.ReasonRuntimeStarting, scrutinv1.ReasonArchiveWaiting, scrutinv1.ReasonSending, scrutinv1.ReasonRuntimeUpToDate,
		scrutinv1.ReasonRetired: // the ScaleDown Event says it (afterTally)
		return true
	}
	return false
}

// progressReasons are the reasons of a False condition that say the controller is
// doing what was asked, not that something is wrong: Normal Events, not Warnings.
var progressReasons = []string{scrutinv1.ReasonArchiveCopying, scrutinv1.ReasonUpgradeHeldWhileOpen, scrutinv1.ReasonKeptAfterClose}

// setPhase moves the election to phase and keeps the move, with its reason and
// message, for the Event that announces it once written (moves).
func setPhase(e *scrutinv1.Election, moves *[]phaseNote, phase scrutinv1.Phase, reason, message string) {
	if e.Status.Phase == phase {
		return
	}
	// never backwards (Failed, outside the order, may always be set)
	if _, ordered := phaseOrder[phase]; ordered && phaseAtLeast(e.Status.Phase, phase) {
		return
	}
	e.Status.Phase = phase
	*moves = append(*moves, phaseNote{phase, reason, message})
}

// setCondition sets one condition with the Election's generation; announce says
// so when its status or reason changed.
func setCondition(e *scrutinv1.Election, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&e.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: e.Generation,
	})
}

// The Ready condition, from what the reconcile observed: the problems it met,
// whether the runtime is retired, and the voting Deployment as the cache shows it.

// readyObserved is what Ready is computed from.
type readyObserved struct {
	problems []problem
	retired  bool
	// deployment is the voting Deployment's shown state; nil when there is none yet.
	deployment *shownDeployment
}

// problemRank orders the problems that keep an election from being Ready, so
// that Ready names the one a person must act on first, whatever the order the
// reconcile met them in: something that is not this election's stands in its
// way (0); the election's own inputs are wrong or missing, which its organiser
// fixes (1); the platform fails (a database, a name, the API server), which is
// retried (2); the runtime does not answer, which it does by itself (3).
func problemRank(reason string) int {
	switch reason {
	case scrutinv1.ReasonNamespaceConflict, scrutinv1.ReasonScrutineerSecretConflict, scrutinv1.ReasonHostnameTaken,
		scrutinv1.ReasonHostnameNeeded, scrutinv1.ReasonDeletionBlocked:
		return 0
	case scrutinv1.ReasonDatabaseUnreachable, scrutinv1.ReasonDatabaseProvisioningFailed, scrutinv1.ReasonEgressUnresolved,
		scrutinv1.ReasonNamespaceTerminating, scrutinv1.ReasonProvisioningFailed:
		return 2
	case scrutinv1.ReasonRuntimeUnreachable:
		return 3
	}
	return 1 // the roll, the credentials, the trustees, the tenant's Secrets
}

// readyCondition is Ready as o says it: False with the first problem by rank
// (naming the others' reasons), True when the runtime is retired or its
// Deployment available, False while its pods start.
func readyCondition(o readyObserved) metav1.Condition {
	if len(o.problems) > 0 {
		ps := slices.Clone(o.problems)
		slices.SortStableFunc(ps, func(a, b problem) int { return problemRank(a.reason) - problemRank(b.reason) })
		msg := ps[0].message
		var others []string
		for _, p := range ps[1:] {
			if p.reason != ps[0].reason && !slices.Contains(others, p.reason) {
				others = append(others, p.reason)
			}
		}
		if len(others) > 0 {
			msg += " (also: " + strings.Join(others, ", ") + ")"
		}
		return metav1.Condition{Type: scrutinv1.ConditionReady, Status: metav1.ConditionFalse, Reason: ps[0].reason, Message: msg}
	}
	if o.retired {
		return metav1.Condition{Type: scrutinv1.ConditionReady, Status: metav1.ConditionTrue, Reason: scrutinv1.ReasonRetired,
			Message: "The voting-runtime is scaled to zero at the end of retention.keepRunningFor; its store is kept"}
	}
	if d := o.deployment; d != nil && d.availableCondition == corev1.ConditionTrue {
		return metav1.Condition{Type: scrutinv1.ConditionReady, Status: metav1.ConditionTrue, Reason: scrutinv1.ReasonRuntimeAvailable,
			Message: fmt.Sprintf("%d of %d voting pods ready", d.ready, d.replicas)}
	}
	return metav1.Condition{Type: scrutinv1.ConditionReady, Status: metav1.ConditionFalse, Reason: scrutinv1.ReasonRuntimeStarting,
		Message: "Waiting for the voting pods to be available"}
}

// The conditions of what the reconcile's steps look at (RollValid,
// RuntimeUpToDate, Delivered, Archived). Each step records what it observed in
// in.observed and sets no condition itself; setObserved computes all four from
// that one value (observedConditions), at one place of the reconcile, before
// Ready. A step that did not look this time leaves its observation nil, and its
// condition as it was.

// observedState is what the steps saw in one reconcile.
type observedState struct {
	roll     *rollObserved
	runtime  *runtimeObserved
	delivery *scrutinv1.DeliveryStatus // as the runtime reported it
	archive  *verdict
	proxies  *verdict // ProxiesValid, when the organiser's list was looked at
}

// verdict is a step's word on its condition.
type verdict struct {
	status          metav1.ConditionStatus
	reason, message string
}

// rollObserved: the roll's verdict when it was checked (nil when it was not: an
// open election keeps the roll it opened with), and the tenant's parts changed
// since the opening, never applied (nil when they were not compared).
type rollObserved struct {
	verdict             *verdict
	changedSinceOpening *string
}

// runtimeObserved: the runtime the voting pods run (state, with the manager's
// own held back in its Pending fields), and why it is held back (hold).
type runtimeObserved struct {
	state scrutinv1.RuntimeState
	hold  string
}

// setObserved sets the conditions of what the steps observed.
func setObserved(e *scrutinv1.Election, o observedState) {
	for _, c := range observedConditions(e.Status.Conditions, o) {
		setCondition(e, c.Type, c.Status, c.Reason, c.Message)
	}
}

// observedConditions are the conditions o says, given the current ones (the
// roll's note of changed parts is kept on, or taken off, the verdict it has).
func observedConditions(current []metav1.Condition, o observedState) []metav1.Condition {
	var out []metav1.Condition
	if o.roll != nil {
		if c := rollCondition(meta.FindStatusCondition(current, scrutinv1.ConditionRollValid), o.roll); c != nil {
			out = append(out, *c)
		}
	}
	if o.runtime != nil {
		out = append(out, runtimeCondition(o.runtime))
	}
	if o.delivery != nil {
		out = append(out, deliveredCondition(o.delivery))
	}
	if v := o.archive; v != nil {
		out = append(out, metav1.Condition{Type: scrutinv1.ConditionArchived, Status: v.status, Reason: v.reason, Message: v.message})
	}
	if v := o.proxies; v != nil {
		out = append(out, metav1.Condition{Type: scrutinv1.ConditionProxiesValid, Status: v.status, Reason: v.reason, Message: v.message})
	}
	return out
}

// rollCondition is RollValid: the verdict of this check, or the current one,
// followed by the parts changed since the opening when there are some.
func rollCondition(current *metav1.Condition, o *rollObserved) *metav1.Condition {
	var c metav1.Condition
	switch {
	case o.verdict != nil:
		c = metav1.Condition{Type: scrutinv1.ConditionRollValid, Status: o.verdict.status, Reason: o.verdict.reason, Message: o.verdict.message}
	case current != nil:
		c = *current
		c.Message, _, _ = strings.Cut(c.Message, changedMarker)
	default:
		return nil
	}
	if ch := o.changedSinceOpening; ch != nil && *ch != "" {
		c.Message += changedMarker + *ch
	}
	return &c
}

// changedMarker introduces, in RollValid's message, the tenant's parts changed
// after the opening.
const changedMarker = "\nchanged after the election opened, not applied (the roll it opened with is kept): "

// runtimeCondition is RuntimeUpToDate: True when nothing is held back; False,
// with the reason it is held, naming both runtimes, when the voting pods keep
// theirs.
func runtimeCondition(o *runtimeObserved) metav1.Condition {
	s := o.state
	if s.PendingTemplateHash == "" {
		return metav1.Condition{Type: scrutinv1.ConditionRuntimeUpToDate, Status: metav1.ConditionTrue, Reason: scrutinv1.ReasonRuntimeUpToDate,
			Message: "The voting pods run the manager's runtime, image " + s.Image}
	}
	msg := fmt.Sprintf("The vote is open: the voting pods keep image %s (template %s); the manager's image %s (template %s) is held back until upgradePolicy is Immediate",
		s.Image, s.TemplateHash, s.PendingImage, s.PendingTemplateHash)
	if o.hold == scrutinv1.ReasonKeptAfterClose {
		msg = fmt.Sprintf("The vote has closed: the election keeps the runtime that took its ballots, image %s (template %s); the manager's image %s (template %s) is not applied",
			s.Image, s.TemplateHash, s.PendingImage, s.PendingTemplateHash)
	}
	return metav1.Condition{Type: scrutinv1.ConditionRuntimeUpToDate, Status: metav1.ConditionFalse, Reason: o.hold, Message: msg}
}

// deliveredCondition is Delivered from the runtime's delivery counts: True
// (AllSent) when nothing waits and nothing failed, False while messages wait
// (Sending) or when some failed (SomeFailed), with the counts.
func deliveredCondition(d *scrutinv1.DeliveryStatus) metav1.Condition {
	queued, failed := deliveryTotals(d)
	counts := describeDelivery(d)
	c := metav1.Condition{Type: scrutinv1.ConditionDelivered, Status: metav1.ConditionFalse}
	switch {
	case failed > 0:
		c.Reason = scrutinv1.ReasonSomeFailed
		c.Message = fmt.Sprintf("%d message(s) failed for good: those voters got no code or letter (%s); "+
			"`kubectl scrutin delivery` lists them, `kubectl scrutin resend` sends again", failed, counts)
	case queued > 0:
		c.Reason = scrutinv1.ReasonSending
		c.Message = fmt.Sprintf("%d message(s) waiting to be sent (%s)", queued, counts)
		if d.OldestQueuedAt != nil {
			c.Message += "; the oldest queued at " + d.OldestQueuedAt.UTC().Format(time.RFC3339)
		}
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, scrutinv1.ReasonAllSent, fmt.Sprintf("every message sent (%s)", counts)
	}
	return c
}
