package controllers

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// noteFloor records in status.minReplicas the floor just applied to the HPA and,
// when it changed, says so in an Event. Before the first one, the floor was
// spec.scaling.minReplicas.
func (r *ElectionReconciler) noteFloor(e *scrutinv1.Election, now time.Time) {
	n, reason, _ := specs.EffectiveMinReplicas(&e.Spec, now)
	was := e.Status.MinReplicas
	if was == 0 {
		was = e.Spec.Scaling.MinReplicas
	}
	e.Status.MinReplicas = n
	if n == was {
		return
	}
	eventReason, note := specs.FloorChange(&e.Spec, now, was, n, reason)
	r.event(e, corev1.EventTypeNormal, eventReason, "PreScale", note)
}
