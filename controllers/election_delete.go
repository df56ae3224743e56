package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// SkipDatabaseCleanupAnnotation is the API's (scrutinv1.SkipDatabaseCleanupAnnotation).
const SkipDatabaseCleanupAnnotation = scrutinv1.SkipDatabaseCleanupAnnotation

// finalize drops the election's database, releases its admin Secret and deletes
// its namespace, then lets the Election go. It never waits silently: while the
// database cannot be dropped, the Ready condition and a Warning event say why, and
// how to go on without it. It does not wait for the namespace to finish
// terminating (Kubernetes does that; a new Election never reuses the name).
func (r *ElectionReconciler) finalize(ctx context.Context, e *scrutinv1.Election) (ctrl.Result, error) {
	r.rollMemos.drop(client.ObjectKeyFromObject(e))
	if !controllerutil.ContainsFinalizer(e, Finalizer) {
		return ctrl.Result{}, nil
	}
	if err := r.dropDatabase(ctx, e); err != nil {
		before := e.Status.DeepCopy()
		msg := fmt.Sprintf("The Election is being deleted but its database cannot be dropped: %v. Retrying; to delete it anyway and leave the database, annotate it %s=true", err, SkipDatabaseCleanupAnnotation)
		c := readyCondition(readyObserved{problems: []problem{{reason: scrutinv1.ReasonDeletionBlocked, message: msg}}})
		setCondition(e, c.Type, c.Status, c.Reason, c.Message)
		return ctrl.Result{}, errors.Join(err, r.writeStatus(ctx, e, before, nil))
	}
	if err := r.deleteArchive(ctx, e); err != nil {
		before := e.Status.DeepCopy()
		msg := fmt.Sprintf("The Election is being deleted but its archive cannot be deleted as retention.archiveOnDelete asks: %v. Retrying; to keep the archive and let the Election go, set spec.retention.archiveOnDelete to Keep", err)
		c := readyCondition(readyObserved{problems: []problem{{reason: scrutinv1.ReasonDeletionBlocked, message: msg}}})
		setCondition(e, c.Type, c.Status, c.Reason, c.Message)
		return ctrl.Result{}, errors.Join(err, r.writeStatus(ctx, e, before, nil))
	}
	if err := r.holdAdminSecret(ctx, e, false); err != nil {
		return ctrl.Result{}, err
	}

	ns := specs.NamespaceName(e)
	var n corev1.Namespace
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: ns}, &n)
	switch {
	case isNotFound(err):
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("while reading namespace %s: %w", ns, err)
	case n.Labels[scrutinv1.LabelElectionUID] != string(e.UID):
		// Not ours: never delete it.
	case n.DeletionTimestamp.IsZero():
		if err := r.Delete(ctx, &n); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("while deleting namespace %s: %w", ns, err)
		}
		r.event(e, corev1.EventTypeNormal, scrutinv1.EventNamespaceDeleted, "Delete", "Deleted namespace "+ns)
	}

	patch := client.MergeFrom(e.DeepCopy())
	controllerutil.RemoveFinalizer(e, Finalizer)
	if err := r.Patch(ctx, e, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// dropDatabase drops the election's database and role, unless told not to.
func (r *ElectionReconciler) dropDatabase(ctx context.Context, e *scrutinv1.Election) error {
	if e.Spec.Store.Type != scrutinv1.StorePostgreSQL || e.Spec.Store.PostgreSQL == nil {
		return nil
	}
	if e.Annotations[SkipDatabaseCleanupAnnotation] == "true" {
		r.event(e, corev1.EventTypeWarning, scrutinv1.EventDatabaseLeft, "Delete",
			fmt.Sprintf("Database %s was not dropped, as the %s annotation asks", specs.DatabaseName(e), SkipDatabaseCleanupAnnotation))
		return nil
	}
	in := &Inputs{Inputs: specs.Inputs{Election: e}}
	adminDSN, err := r.adminDSN(ctx, in)
	if err != nil {
		return err
	}
	if adminDSN == "" {
		return fmt.Errorf("%s", in.problems[0].message)
	}
	if err := r.Databases.Drop(ctx, adminDSN, electionDatabase(e)); err != nil {
		_, msg := databaseFailure(ctx, e, "drop", err)
		return errors.New(msg)
	}
	r.event(e, corev1.EventTypeNormal, scrutinv1.EventDatabaseDropped, "Delete", "Dropped database and role "+specs.DatabaseName(e))
	return nil
}

// deleteOrphanNamespaces deletes the namespaces labelled as an Election's (by tenant
// namespace and name) whose uid is not keepUID: what an Election that no longer
// exists, or an earlier Election of the same name, left behind.
func (r *ElectionReconciler) deleteOrphanNamespaces(ctx context.Context, namespace, name, keepUID string) error {
	var list metav1.PartialObjectMetadataList
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.APIReader.List(ctx, &list, client.MatchingLabels{
		specs.LabelManagedBy: scrutinv1.ManagedByController, scrutinv1.LabelElectionNamespace: namespace, scrutinv1.LabelElectionName: name,
	}); err != nil {
		return fmt.Errorf("while listing namespaces left by %s/%s: %w", namespace, name, err)
	}
	var errs []error
	for i := range list.Items {
		ns := &list.Items[i]
		if ns.Labels[scrutinv1.LabelElectionUID] == keepUID || !ns.DeletionTimestamp.IsZero() {
			continue
		}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		if err := r.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("while deleting orphan namespace %s: %w", ns.Name, err))
		}
	}
	return errors.Join(errs...)
}
