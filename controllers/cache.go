package controllers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// CacheOptions make the manager cache only Scrutin's own objects of the managed
// kinds and of the route kinds the platform's options make (a route kind the
// options do not make is not named: the cluster may not have it), and of Secrets only their metadata (every Secret of the cluster: a
// tenant's roll parts carry no label of ours), so the controller's memory grows
// with neither the cluster's Secrets nor their data. What the controller never
// reads from its caches is dropped before it is stored (trimCached).
func CacheOptions(route specs.RouteOptions) cache.Options {
	own := labels.SelectorFromSet(labels.Set{specs.LabelManagedBy: scrutinv1.ManagedByController})
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range append(managedKinds(), routeObjects(route)...) {
		byObject[o] = cache.ByObject{Label: own, Transform: trimCached}
	}
	byObject[&corev1.Secret{}] = cache.ByObject{Transform: trimCachedSecret}
	byObject[&scrutinv1.Election{}] = cache.ByObject{Transform: trimCachedElection}
	return cache.Options{ByObject: byObject}
}

// ClientOptions make typed Secret reads go to the API server, never to a cache.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}}
}

// lastAppliedAnnotation is kubectl's client-side apply record: a whole copy of the
// object (of a Secret, its data).
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// trimCached keeps of an object of the managed and route kinds what the
// controller reads from its cache, and nothing else:
//   - its name and identity, the labels that map it to its Election (toElection),
//     and what the apply skip (upToDate) compares: the digests of the object as
//     last applied and of the fields the controller owns (trimMetadata);
//   - of a Deployment, its status as well (are the voting pods available, how many
//     are ready: runtimeAvailable, setReady).
//
// Specs, data and the other statuses go: whatever reads them must read the API
// server (APIReader), as the provisioning steps do. At 10,000 Elections this is
// most of the manager's memory (make bench-scale).
var trimCached toolscache.TransformFunc = func(in any) (any, error) {
	o, err := meta.Accessor(in)
	if err != nil {
		return in, nil // a tombstone: left as it is
	}
	trimMetadata(o)
	kept := map[string]string{}
	for _, k := range electionMappingLabels {
		if v, ok := o.GetLabels()[k]; ok {
			kept[k] = v
		}
	}
	o.SetLabels(kept)
	switch o := in.(type) {
	case *appsv1.Deployment:
		o.Spec = appsv1.DeploymentSpec{}
	case *corev1.Namespace:
		o.Spec, o.Status = corev1.NamespaceSpec{}, corev1.NamespaceStatus{}
	case *corev1.PersistentVolumeClaim:
		o.Spec, o.Status = corev1.PersistentVolumeClaimSpec{}, corev1.PersistentVolumeClaimStatus{}
	case *corev1.ConfigMap:
		o.Data, o.BinaryData, o.Immutable = nil, nil, nil
	case *corev1.ServiceAccount:
		o.Secrets, o.ImagePullSecrets, o.AutomountServiceAccountToken = nil, nil, nil
	case *corev1.Service:
		o.Spec, o.Status = corev1.ServiceSpec{}, corev1.ServiceStatus{}
	case *corev1.ResourceQuota:
		o.Spec, o.Status = corev1.ResourceQuotaSpec{}, corev1.ResourceQuotaStatus{}
	case *corev1.LimitRange:
		o.Spec = corev1.LimitRangeSpec{}
	case *autoscalingv2.HorizontalPodAutoscaler:
		o.Spec, o.Status = autoscalingv2.HorizontalPodAutoscalerSpec{}, autoscalingv2.HorizontalPodAutoscalerStatus{}
	case *policyv1.PodDisruptionBudget:
		o.Spec, o.Status = policyv1.PodDisruptionBudgetSpec{}, policyv1.PodDisruptionBudgetStatus{}
	case *networkingv1.NetworkPolicy:
		o.Spec = networkingv1.NetworkPolicySpec{}
	case *networkingv1.Ingress:
		o.Spec, o.Status = networkingv1.IngressSpec{}, networkingv1.IngressStatus{}
	case *gatewayv1.HTTPRoute:
		o.Spec, o.Status = gatewayv1.HTTPRouteSpec{}, gatewayv1.HTTPRouteStatus{}
	case *cmapi.Certificate:
		o.Spec, o.Status = cmapi.CertificateSpec{}, cmapi.CertificateStatus{}
	}
	return in, nil
}

// trimCachedElection drops of a cached Election its managedFields and kubectl's
// copy: the cache of Elections serves the watches, the host index and the
// metrics, and a reconcile reads its Election from the API server.
var trimCachedElection toolscache.TransformFunc = func(in any) (any, error) {
	e, ok := in.(*scrutinv1.Election)
	if !ok {
		return in, nil
	}
	e.ManagedFields = nil
	delete(e.Annotations, lastAppliedAnnotation)
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
	trimMetadata(o)
	return in, nil
}

// electionMappingLabels are the labels by which toElection maps an object to its
// Election: all the cache keeps of an applied object's labels.
var electionMappingLabels = []string{specs.LabelManagedBy, scrutinv1.LabelElectionNamespace, scrutinv1.LabelElectionName}

// ownedFieldsAnnotation exists only in the manager's cache: the SHA-256 of the
// fields the controller's server-side applies own (ownedFieldsDigest), which
// replaces the object's managedFields there (a field set of a Deployment is
// kilobytes, and 10,000 Elections hold 200,000 objects).
const ownedFieldsAnnotation = "cache.elections.scrutin.dev/owned-fields-sha256"

// trimMetadata replaces an object's managedFields by the digest of the fields the
// controller's own apply entry owns, and keeps of its annotations only the digest
// of the object as last applied: what upToDate compares.
func trimMetadata(o metav1.Object) {
	kept := map[string]string{}
	if v, ok := o.GetAnnotations()[AppliedSHA256Annotation]; ok {
		kept[AppliedSHA256Annotation] = v
	}
	for _, mf := range o.GetManagedFields() {
		if mf.Manager != FieldOwner || mf.Operation != metav1.ManagedFieldsOperationApply || mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			continue // no digest: the apply is not skipped
		}
		if d, err := ownedFieldsDigest(mf.APIVersion, s); err == nil {
			kept[ownedFieldsAnnotation] = d
		}
	}
	o.SetAnnotations(kept)
	o.SetManagedFields(nil)
}

// ownedFieldsDigest is the SHA-256 of an API version and a field set in its
// canonical JSON form (sorted).
func ownedFieldsDigest(apiVersion string, s *fieldpath.Set) (string, error) {
	b, err := s.ToJSON()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(apiVersion + "\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}
