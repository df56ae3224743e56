package controllers

import (
	"context"
	"maps"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// managedKinds are the kinds the controller creates in election namespaces (Secrets
// aside): it watches them to repair drift, and caches only its own.
func managedKinds() []client.Object {
	return []client.Object{
		&corev1.Namespace{}, &corev1.ServiceAccount{}, &corev1.ConfigMap{}, &corev1.Service{},
		&corev1.PersistentVolumeClaim{}, &corev1.ResourceQuota{}, &corev1.LimitRange{},
		&appsv1.Deployment{}, &autoscalingv2.HorizontalPodAutoscaler{}, &policyv1.PodDisruptionBudget{},
		&networkingv1.NetworkPolicy{},
	}
}

// routeObjects are empty objects of the kinds routeKinds names.
func routeObjects(o specs.RouteOptions) []client.Object {
	var out []client.Object
	for _, gvk := range specs.RouteKinds(o) {
		switch gvk.Kind {
		case "HTTPRoute":
			out = append(out, &gatewayv1.HTTPRoute{})
		case "Ingress":
			out = append(out, &networkingv1.Ingress{})
		case cmapi.CertificateKind:
			out = append(out, &cmapi.Certificate{})
		}
	}
	return out
}

const secretRefIndex = "spec.secretRefs"

// indexSecretRefs indexes an Election by the names of the tenant Secrets it reads.
func indexSecretRefs(o client.Object) []string {
	e := o.(*scrutinv1.Election)
	var names []string
	if ref := e.Spec.VoterRoll.SecretRef; ref != nil {
		names = append(names, ref.Name)
	}
	for _, p := range e.Spec.VoterRoll.Parts {
		names = append(names, p.Name)
	}
	if d := e.Spec.Delivery.SMTP; d != nil {
		names = append(names, d.SecretRef.Name)
	}
	if d := e.Spec.Delivery.SMS; d != nil {
		names = append(names, d.SecretRef.Name)
	}
	if p := e.Spec.Store.PostgreSQL; p != nil {
		names = append(names, p.AdminSecretRef.Name)
	}
	if v := e.Spec.Verifiability; v != nil && v.PublicCredentials != nil {
		names = append(names, v.PublicCredentials.Name)
	}
	if p := e.Spec.Proxies; p != nil && p.SecretRef != nil {
		names = append(names, p.SecretRef.Name)
	}
	return names
}

// electionChanged passes spec, label and annotation changes and the start of a
// deletion, not the controller's own status writes.
var electionChanged = predicate.Or(
	predicate.GenerationChangedPredicate{},
	predicate.LabelChangedPredicate{},
	predicate.AnnotationChangedPredicate{},
	predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	}},
)

// notOwnCreation drops the creation of the controller's own objects: it made them
// itself (or the cache is listing them at start, when every Election is queued
// anyway), so reconciling again would only repeat work. Their updates and deletions
// still come through: that is drift to repair. A tenant's Secret appearing does too.
var notOwnCreation = predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool {
	return e.Object.GetLabels()[specs.LabelManagedBy] != scrutinv1.ManagedByController
}}

// ownChange passes the updates of the controller's own objects that can matter to
// their Election, as its cache keeps them (trimCached): a change of the fields
// the controller owns (another writer that changes one takes it from the
// controller's managedFields entry, whose digest the cache keeps), of the object's
// apply record or its election labels, a deletion that starts, and of a
// Deployment, the pod counts and availability the Election's status shows. The
// status writes of other controllers (a Deployment's rollout bookkeeping, a
// ResourceQuota's usage, a claim's binding) do not bring the Election back: at a
// platform's thousands of elections, the pods' start alone kept the manager busy
// for over ten minutes (make bench-scale).
var ownChange = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	before, after := e.ObjectOld, e.ObjectNew
	if !maps.Equal(before.GetAnnotations(), after.GetAnnotations()) || !maps.Equal(before.GetLabels(), after.GetLabels()) ||
		before.GetDeletionTimestamp().IsZero() != after.GetDeletionTimestamp().IsZero() {
		return true
	}
	if b, ok := before.(*appsv1.Deployment); ok {
		if a, ok := after.(*appsv1.Deployment); ok {
			return deploymentShown(b) != deploymentShown(a)
		}
	}
	return false
}}

// shownDeployment is what the Election's status shows of its voting Deployment
// (setReady), which ownChange compares before and after an update.
type shownDeployment struct {
	replicas, ready, available int32
	availableCondition         corev1.ConditionStatus
}

func deploymentShown(d *appsv1.Deployment) shownDeployment {
	s := shownDeployment{replicas: d.Status.Replicas, ready: d.Status.ReadyReplicas, available: d.Status.AvailableReplicas}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			s.availableCondition = c.Status
		}
	}
	return s
}

func (r *ElectionReconciler) setupWatches(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("election").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		For(&scrutinv1.Election{}, builder.WithPredicates(electionChanged))
	for _, o := range append(managedKinds(), routeObjects(r.Options.Route)...) {
		b = b.Watches(o, handler.EnqueueRequestsFromMapFunc(toElection), builder.WithPredicates(notOwnCreation, ownChange))
	}
	// a host released or newly served is looked at again by the Elections
	// waiting for it
	b = b.Watches(&scrutinv1.Election{}, handler.EnqueueRequestsFromMapFunc(r.electionsSharingHost))
	b = b.Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToElections),
		builder.OnlyMetadata, builder.WithPredicates(notOwnCreation))
	// an Election waiting for its opening whose delivery counts moved
	// (delivery_watch.go)
	b = b.WatchesRawSource(source.Channel(r.deliveries.changed, &handler.TypedEnqueueRequestForObject[*scrutinv1.Election]{}))
	return b.Complete(r)
}

// toElection maps an object of an election's namespace to its Election.
func toElection(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	ns, name := l[scrutinv1.LabelElectionNamespace], l[scrutinv1.LabelElectionName]
	if ns == "" || name == "" || l[specs.LabelManagedBy] != scrutinv1.ManagedByController {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

// secretToElections maps a Secret to its Election (the election's own Secrets) or to
// the Elections of its namespace that read it (a tenant's roll or roll part,
// delivery or database Secret, by name, or a roll part by the Election's selector).
func (r *ElectionReconciler) secretToElections(ctx context.Context, o client.Object) []reconcile.Request {
	if reqs := toElection(ctx, o); reqs != nil {
		return reqs
	}
	seen := map[types.NamespacedName]bool{}
	var reqs []reconcile.Request
	add := func(e *scrutinv1.Election) {
		key := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
		if !seen[key] {
			seen[key] = true
			reqs = append(reqs, reconcile.Request{NamespacedName: key})
		}
	}
	var byName scrutinv1.ElectionList
	if err := r.List(ctx, &byName, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretRefIndex: o.GetName()}); err == nil {
		for i := range byName.Items {
			add(&byName.Items[i])
		}
	}
	var bySelector scrutinv1.ElectionList
	if err := r.List(ctx, &bySelector, client.InNamespace(o.GetNamespace()), client.MatchingFields{rollSelectorIndex: "true"}); err == nil {
		for i := range bySelector.Items {
			e := &bySelector.Items[i]
			sel, err := metav1.LabelSelectorAsSelector(e.Spec.VoterRoll.Selector)
			if err == nil && sel.Matches(labels.Set(o.GetLabels())) {
				add(e)
			}
		}
	}
	return reqs
}

const rollSelectorIndex = "spec.voterRoll.hasSelector"

// indexRollSelector indexes the Elections whose roll is selected by label.
func indexRollSelector(o client.Object) []string {
	if o.(*scrutinv1.Election).Spec.VoterRoll.Selector != nil {
		return []string{"true"}
	}
	return nil
}
