package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// writeStatus persists e.Status when it differs from before, re-reading and retrying
// on conflict. observedGeneration always says which spec it describes.
func (r *ElectionReconciler) writeStatus(ctx context.Context, e *scrutinv1.Election, before *scrutinv1.ElectionStatus) error {
	e.Status.ObservedGeneration = e.Generation
	if equality.Semantic.DeepEqual(before, &e.Status) {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur scrutinv1.Election
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(e), &cur); err != nil {
			return err
		}
		cur.Status = e.Status
		return r.Status().Update(ctx, &cur)
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("while writing the status: %w", err)
	}
	return nil
}

// setPhase moves the election to phase, with an Event naming the transition.
func (r *ElectionReconciler) setPhase(e *scrutinv1.Election, phase scrutinv1.Phase, reason, note string) {
	if e.Status.Phase == phase {
		return
	}
	// never backwards (Failed, outside the order, may always be set)
	if _, ordered := phaseOrder[phase]; ordered && phaseAtLeast(e.Status.Phase, phase) {
		return
	}
	e.Status.Phase = phase
	eventType := corev1.EventTypeNormal
	if phase == scrutinv1.PhaseFailed {
		eventType = corev1.EventTypeWarning
	}
	r.event(e, eventType, reason, string(phase), note)
}

// setConditionWithEvent sets a condition and records an Event when its status or
// reason changes (Warning when it turns False), so events say what happened without
// repeating at every reconcile.
func (r *ElectionReconciler) setConditionWithEvent(e *scrutinv1.Election, typ string, status metav1.ConditionStatus, reason, message string) {
	var old metav1.Condition // a copy: SetStatusCondition updates the slice in place
	if c := meta.FindStatusCondition(e.Status.Conditions, typ); c != nil {
		old = *c
	}
	setCondition(e, typ, status, reason, message)
	if old.Status == status && old.Reason == reason {
		return
	}
	eventType := corev1.EventTypeNormal
	if status == metav1.ConditionFalse {
		eventType = corev1.EventTypeWarning
	}
	r.event(e, eventType, reason, typ, message)
}
