package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// An upgrade of the manager (a new --runtime-image, or a release whose builder
// renders other flags, probes, resources...) changes the pod template it renders
// for every election. decideRuntime chooses, in this one place, which template an
// election's Deployment gets:
//
//   - not yet open (or Failed): the manager's own, at once;
//   - open (the Open phase, or opensAt passed) with upgradePolicy WhenNotOpen: the
//     template applied before, whole, as recorded in the runtime-template
//     ConfigMap of its namespace: the image, the flags, the probes, the
//     resources, the volumes are the ones the pods run, whatever this manager
//     would render. Only the settings' hash is this reconcile's, so that a
//     tenant's new delivery settings still restart the pods, on their template;
//   - open with upgradePolicy Immediate: the manager's own;
//   - Closed or Tallied: the template applied before, for good, whatever the
//     policy: the runtime that took the ballots counts them and serves the
//     results.
//
// The template held back is said in status.runtime.pendingImage and
// pendingTemplateHash and in the RuntimeUpToDate condition, with an Event when it
// is held and when a new template is applied over a recorded one.

// holdReason is why the manager's template may not replace the one applied
// (a RuntimeUpToDate reason), or "" when it may.
func holdReason(e *scrutinv1.Election, in *Inputs) string {
	switch {
	case e.Status.Phase == scrutinv1.PhaseFailed:
		return ""
	case phaseAtLeast(e.Status.Phase, scrutinv1.PhaseClosed),
		// the reconcile that closes it decides before the phase moves
		phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) && !in.Now.Before(e.Spec.Schedule.ClosesAt.Time):
		return scrutinv1.ReasonKeptAfterClose
	case e.Spec.EffectiveUpgradePolicy() == scrutinv1.UpgradeImmediate:
		return ""
	case e.Status.Phase == scrutinv1.PhaseOpen || !in.Now.Before(e.Spec.Schedule.OpensAt.Time):
		return scrutinv1.ReasonUpgradeHeldWhileOpen
	}
	return ""
}

// appliedTemplate is the template the Deployment was last given, with its digest:
// from its record (recorded), read from the API server (a cached copy may predate
// the last apply); or, for a Deployment made before records existed, from the
// Deployment itself, as the API server completed it. nil when there is neither.
func (r *ElectionReconciler) appliedTemplate(ctx context.Context, in *Inputs) (t *corev1.PodTemplateSpec, hash string, recorded bool, err error) {
	var cm corev1.ConfigMap
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RuntimeTemplateName}, &cm)
	if err == nil && cm.Labels[scrutinv1.LabelElectionUID] == string(in.Election.UID) {
		if t := specs.ReadRuntimeTemplateRecord(&cm); t != nil {
			return t, cm.Annotations[specs.TemplateHashAnnotation], true, nil
		}
	} else if err != nil && !isNotFound(err) {
		return nil, "", false, fmt.Errorf("while reading the runtime template's record: %w", err)
	}
	var d appsv1.Deployment
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.RuntimeName}, &d)
	if isNotFound(err) || (err == nil && d.Labels[scrutinv1.LabelElectionUID] != string(in.Election.UID)) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("while reading the voting Deployment: %w", err)
	}
	t = d.Spec.Template.DeepCopy()
	delete(t.Annotations, specs.ConfigHashAnnotation)
	t.CreationTimestamp = metav1.Time{}
	hash, err = specs.PodTemplateHash(t)
	return t, hash, false, err
}

// decideRuntime sets in.RuntimeTemplate and status.runtime, and notes for
// RuntimeUpToDate (runtimeCondition) what the voting pods run and why the
// manager's runtime is held back.
func (r *ElectionReconciler) decideRuntime(ctx context.Context, in *Inputs) error {
	e := in.Election
	rendered := specs.PodTemplate(&in.Inputs)
	renderedHash, err := specs.PodTemplateHash(&rendered)
	if err != nil {
		return err
	}
	reason := holdReason(e, in)
	if reason == "" && e.Status.Runtime != nil && e.Status.Runtime.TemplateHash == renderedHash && e.Status.Runtime.PendingTemplateHash == "" {
		// settled: the last decision was this very template, nothing is held, and
		// nothing would hold it now; the record need not be read again (two
		// uncached reads per reconcile, at a platform's thousands of elections)
		in.RuntimeTemplate = &rendered
		in.observed.runtime = &runtimeObserved{state: scrutinv1.RuntimeState{Image: specs.TemplateImage(&rendered), TemplateHash: renderedHash}}
		return nil
	}
	applied, appliedHash, recorded, err := r.appliedTemplate(ctx, in)
	if err != nil {
		return err
	}
	if applied == nil || appliedHash == renderedHash || reason == "" {
		in.RuntimeTemplate = &rendered
		e.Status.Runtime = &scrutinv1.RuntimeState{Image: specs.TemplateImage(&rendered), TemplateHash: renderedHash}
		in.observed.runtime = &runtimeObserved{state: *e.Status.Runtime}
		// (a template read from a Deployment never matches a rendering: the API
		// server completed it; no Event for that)
		if recorded && appliedHash != renderedHash {
			r.event(e, corev1.EventTypeNormal, scrutinv1.ReasonRuntimeUpgraded, "UpgradeRuntime",
				fmt.Sprintf("Applied the manager's runtime (image %s, template %s) over image %s (template %s)",
					specs.TemplateImage(&rendered), renderedHash, specs.TemplateImage(applied), appliedHash))
		}
		return nil
	}

	in.RuntimeTemplate = applied
	e.Status.Runtime = &scrutinv1.RuntimeState{
		Image: specs.TemplateImage(applied), TemplateHash: appliedHash,
		PendingImage: specs.TemplateImage(&rendered), PendingTemplateHash: renderedHash,
	}
	in.observed.runtime = &runtimeObserved{state: *e.Status.Runtime, hold: reason}
	return nil
}
