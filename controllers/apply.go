package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"scrutin.dev/scrutin/internal/specs"
)

// AppliedSHA256Annotation on every object the controller applies is the hex
// SHA-256 of the object as it was last applied (this annotation aside).
const AppliedSHA256Annotation = "elections.scrutin.dev/applied-sha256"

// apply server-side-applies obj as the controller's field manager, forcing
// ownership of the fields it sets: whatever was edited by hand comes back. An
// object already as desired is not sent again (see upToDate).
func (r *ElectionReconciler) apply(ctx context.Context, obj client.Object) error {
	ac, record, err := appliedForm(obj)
	if err != nil {
		return err
	}
	kind := ptr.Deref(ac.GetKind(), "")
	if r.upToDate(ctx, ac, record) {
		appliesTotal.WithLabelValues(kind, "skipped").Inc()
		return nil
	}
	appliesTotal.WithLabelValues(kind, "sent").Inc()
	if err := r.Apply(ctx, ac, client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return err
	}
	if r.isRouteKind(appliedGVK(ac)) {
		// the apply's answer is in ac: its resourceVersion is the object's as applied
		rv, err := appliedResourceVersion(ac)
		if err != nil {
			return err
		}
		r.routesApplied.Store(routeKey(ac), appliedRoute{resourceVersion: rv, record: record})
	}
	return nil
}

// appliedRoute is a route object as the controller's last apply left it.
type appliedRoute struct{ resourceVersion, record string }

func routeKey(ac specs.Applied) string {
	return ptr.Deref(ac.GetKind(), "") + "/" + ptr.Deref(ac.GetNamespace(), "") + "/" + ptr.Deref(ac.GetName(), "")
}

// isRouteKind reports whether gvk is one of the route kinds this manager makes.
func (r *ElectionReconciler) isRouteKind(gvk schema.GroupVersionKind) bool {
	return slices.Contains(specs.RouteKinds(r.Options.Route), gvk)
}

// routeUpToDate: the route kinds are custom resources (HTTPRoute, Certificate),
// whose schemas the controller does not hold to compute the fields an apply owns.
// Their cached copy is as desired when it is still at the resourceVersion the
// controller's own last apply of the same desired object returned: any other write
// since (an edit by hand, another controller) has moved it, and the next reconcile
// applies again. A manager that starts remembers nothing, so it applies each route
// once.
func (r *ElectionReconciler) routeUpToDate(ctx context.Context, ac specs.Applied, record string) bool {
	v, ok := r.routesApplied.Load(routeKey(ac))
	if !ok || v.(appliedRoute).record != record {
		return false
	}
	if r.Client == nil {
		return false
	}
	// read from the label-filtered cache of that kind (CacheOptions), typed as it is
	// cached, so that no other informer is started
	o, err := r.Scheme().New(appliedGVK(ac))
	if err != nil {
		return false
	}
	live, ok := o.(client.Object)
	if !ok || r.Get(ctx, appliedKey(ac), live) != nil {
		return false
	}
	return live.GetDeletionTimestamp().IsZero() && live.GetResourceVersion() == v.(appliedRoute).resourceVersion
}

// appliedForm is obj as it is applied: its typed apply configuration, with no
// status, and the SHA-256 of all that (record), which it carries in
// AppliedSHA256Annotation.
func appliedForm(obj client.Object) (ac specs.Applied, record string, err error) {
	return specs.ApplyConfiguration(obj, AppliedSHA256Annotation)
}

// appliedResourceVersion is the resourceVersion of the object an apply of ac
// answered with (the API server's answer is decoded into ac).
func appliedResourceVersion(ac specs.Applied) (string, error) {
	var m struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	b, err := json.Marshal(ac)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	return m.Metadata.ResourceVersion, err
}

func appliedGVK(ac specs.Applied) schema.GroupVersionKind {
	gv, _ := schema.ParseGroupVersion(ptr.Deref(ac.GetAPIVersion(), ""))
	return gv.WithKind(ptr.Deref(ac.GetKind(), ""))
}

func appliedKey(ac specs.Applied) client.ObjectKey {
	return client.ObjectKey{Namespace: ptr.Deref(ac.GetNamespace(), ""), Name: ptr.Deref(ac.GetName(), "")}
}

// upToDate reports whether the live object, as cached, is already what applying
// ac would make it, so the apply can be skipped. Two things must hold:
//   - its AppliedSHA256Annotation is ac's (record): the controller's last apply
//     was this very object;
//   - the fields the controller owns (its managedFields entry, of which the cache
//     keeps a digest: ownedFieldsAnnotation) are exactly the fields of ac: nobody
//     changed or removed any of them since, for any write by another manager
//     that changes a field's value (kubectl edit, patch, another apply) takes
//     that field from the controller's entry, and a field the controller stopped
//     setting would still be in it.
//
// A cache that lags behind an edit only delays the repair: the edit's watch event
// queues the Election again, and that reconcile reads the updated cache. Objects
// not found in the cache (new, or of a kind not cached) are always applied.
func (r *ElectionReconciler) upToDate(ctx context.Context, ac specs.Applied, record string) bool {
	if r.isRouteKind(appliedGVK(ac)) {
		return r.routeUpToDate(ctx, ac, record)
	}
	live := r.cachedMetadata(ctx, appliedGVK(ac), appliedKey(ac))
	if live == nil || !live.GetDeletionTimestamp().IsZero() ||
		live.GetAnnotations()[AppliedSHA256Annotation] != record {
		return false
	}
	owned := live.GetAnnotations()[ownedFieldsAnnotation] // the cache's digest of its managedFields entry
	if owned == "" {
		return false
	}
	want, err := appliedFields(ac)
	if err != nil {
		return false
	}
	d, err := ownedFieldsDigest(ptr.Deref(ac.GetAPIVersion(), ""), want)
	return err == nil && d == owned
}

// cachedMetadata is the cached object of that kind and key, or nil when it is not
// cached: Secrets from the metadata-only cache, the managed kinds from theirs.
// Nothing else is looked up, so no informer is ever started here.
func (r *ElectionReconciler) cachedMetadata(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) metav1.Object {
	if gvk == secretGVK {
		if r.Cache == nil {
			return nil
		}
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		if err := r.Cache.Get(ctx, key, m); err != nil {
			return nil
		}
		return m
	}
	if r.Client == nil || !isManagedKind(r.Scheme(), gvk) {
		return nil
	}
	o, err := r.Scheme().New(gvk)
	if err != nil {
		return nil
	}
	obj, ok := o.(client.Object)
	if !ok || r.Get(ctx, key, obj) != nil {
		return nil
	}
	return obj
}

var secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")

// isManagedKind reports whether gvk is one of managedKinds (cached by label).
func isManagedKind(s *runtime.Scheme, gvk schema.GroupVersionKind) bool {
	for _, o := range managedKinds() {
		if k, err := apiutil.GVKForObject(o, s); err == nil && k == gvk {
			return true
		}
	}
	return false
}

// appliedFields are the fields the API server records as owned by an apply of
// ac: every field ac sets, as the object's schema names them, but the metadata it
// never records as owned.
func appliedFields(ac specs.Applied) (*fieldpath.Set, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ac)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	tv, err := typeConverter().ObjectToTyped(u, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("while typing %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		return nil, err
	}
	return set.Difference(neverOwned), nil
}

// typeConverter knows the schemas of Kubernetes' own kinds (built once: parsing
// them takes a while).
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme)
})

// neverOwned are the fields the API server strips from every manager's set.
var neverOwned = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)
