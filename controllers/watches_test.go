package controllers

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// An update of one of the controller's objects brings its Election back when it
// can matter to it, as the cache keeps the object: not for another controller's
// status bookkeeping.
func TestOwnChange(t *testing.T) {
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "scrutin-vote-x", Name: "o", ResourceVersion: "1",
			Labels:      map[string]string{specs.LabelManagedBy: scrutinv1.ManagedByController, scrutinv1.LabelElectionNamespace: "t1", scrutinv1.LabelElectionName: "vote"},
			Annotations: map[string]string{AppliedSHA256Annotation: "a1", ownedFieldsAnnotation: "f1"}}
	}
	quota := func(edit func(*corev1.ResourceQuota)) *corev1.ResourceQuota {
		q := &corev1.ResourceQuota{ObjectMeta: meta()}
		edit(q)
		return q
	}
	deployment := func(edit func(*appsv1.Deployment)) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: meta()}
		edit(d)
		return d
	}
	none := func(*corev1.ResourceQuota) {}
	now := metav1.Now()
	for name, tc := range map[string]struct {
		before, after client.Object
		want          bool
	}{
		"a quota's usage rewritten (status only)": {quota(none), quota(func(q *corev1.ResourceQuota) {
			q.ResourceVersion = "2"
			q.Status.Used = corev1.ResourceList{"pods": {}}
		}), false},
		"a field the controller owned taken by another writer": {quota(none), quota(func(q *corev1.ResourceQuota) {
			q.ResourceVersion = "2"
			q.Annotations[ownedFieldsAnnotation] = "f2"
		}), true},
		"applied again by the controller": {quota(none), quota(func(q *corev1.ResourceQuota) {
			q.Annotations[AppliedSHA256Annotation] = "a2"
		}), true},
		"an election label removed": {quota(none), quota(func(q *corev1.ResourceQuota) {
			delete(q.Labels, scrutinv1.LabelElectionName)
		}), true},
		"its deletion starting": {quota(none), quota(func(q *corev1.ResourceQuota) {
			q.DeletionTimestamp = &now
		}), true},
		"a Deployment's rollout bookkeeping": {deployment(func(*appsv1.Deployment) {}), deployment(func(d *appsv1.Deployment) {
			d.Status.ObservedGeneration, d.Status.UpdatedReplicas = 2, 1
		}), false},
		"a Deployment's pod ready": {deployment(func(*appsv1.Deployment) {}), deployment(func(d *appsv1.Deployment) {
			d.Status.ReadyReplicas = 1
		}), true},
		"a Deployment becoming available": {deployment(func(*appsv1.Deployment) {}), deployment(func(d *appsv1.Deployment) {
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
		}), true},
	} {
		if got := ownChange.Update(event.UpdateEvent{ObjectOld: tc.before, ObjectNew: tc.after}); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}
