package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CacheOptions make the manager cache only Scrutin's own objects of the managed
// kinds and of the route kinds the platform's options make (a route kind the
// options do not make is not named: the cluster may not have it), and of Secrets only their metadata (every Secret of the cluster: a
// tenant's roll parts carry no label of ours), so the controller's memory grows
// with neither the cluster's Secrets nor their data. What the controller never
// reads from its caches is dropped before it is stored (trimCached).
func CacheOptions(route RouteOptions) cache.Options {
	own := labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy})
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range append(managedKinds(), routeObjects(route)...) {
		byObject[o] = cache.ByObject{Label: own, Transform: trimCached}
	}
	byObject[&corev1.Secret{}] = cache.ByObject{Transform: trimCachedSecret}
	return cache.Options{ByObject: byObject}
}

// ClientOptions make typed Secret reads go to the API server, never to a cache.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// lastAppliedAnnotation is kubectl's client-side apply record: a whole copy of the
// object (of a Secret, its data).
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// trimCached keeps, of an object's managedFields, only the controller's own apply
// entry (what the apply skip compares), and drops kubectl's copy of the object.
var trimCached toolscache.TransformFunc = func(in any) (any, error) {
	o, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone: left as it is
	}
	trimManagedFields(o)
	if a := o.GetAnnotations(); a[lastAppliedAnnotation] != "" {
		delete(a, lastAppliedAnnotation)
		o.SetAnnotations(a)
	}
	return in, nil
}

// trimCachedSecret keeps of a Secret what the controller reads from its cache:
// its name, labels (to map it to its Elections) and, on the controller's own
// Secrets, its apply annotation and entry. The data (never in the metadata-only
// cache) and every other annotation go, kubectl's copy of the data first among
// them, as cert-manager does for the Secrets it watches.
var trimCachedSecret toolscache.TransformFunc = func(in any) (any, error) {
	o, err := meta.Accessor(in)
	if err != nil {
		return in, nil
	}
	if s, ok := in.(*corev1.Secret); ok { // a typed Secret, should one ever be cached
		s.Data, s.StringData = nil, nil
	}
	trimManagedFields(o)
	var kept map[string]string
	if v, ok := o.GetAnnotations()[AppliedSHA256Annotation]; ok {
		kept = map[string]string{AppliedSHA256Annotation: v}
	}
	o.SetAnnotations(kept)
	return in, nil
}

func trimManagedFields(o metav1.Object) {
	var kept []metav1.ManagedFieldsEntry
	for _, mf := range o.GetManagedFields() {
		if mf.Manager == FieldOwner && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			kept = append(kept, mf)
		}
	}
	if len(kept) != len(o.GetManagedFields()) {
		o.SetManagedFields(kept)
	}
}
