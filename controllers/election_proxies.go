package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/roll"
)

// maxProxiesBytes bounds the organiser's list of proxies: a Secret's own bound.
const maxProxiesBytes = corev1.MaxSecretSize

// loadProxies reads the organiser's list of proxies (spec.proxies.secretRef),
// checks that it is a list (a header grantor,holder, then two ids a line: a
// line that is not is named by its number, never by its values) and copies it
// into the election's namespace, where the runtime declares it against the
// roll (each line with an unknown id, a chain, over the cap or a second proxy
// of its grantor is then refused alone, and counted in status.proxies). From
// the proxies' deadline the copy stands as it is: the list can no longer change.
func (r *ElectionReconciler) loadProxies(ctx context.Context, in *Inputs) error {
	e := in.Election
	if e.Spec.Proxies == nil || e.Spec.Proxies.SecretRef == nil {
		return nil
	}
	if !in.Now.Before(e.Spec.ProxyDeadline()) || phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
		in.keepProxiesCopy = true
		if sha, _, ok := r.proxiesCopySHA256(ctx, in); ok {
			in.Proxies = &specs.ProxiesCopy{SHA256: sha}
		}
		return nil
	}
	in.keepProxiesCopy = true // until the tenant's Secret is read
	name := e.Spec.Proxies.SecretRef.Name
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: name}, &s)
	if isNotFound(err) {
		in.keepProxiesCopy = false
		in.addProblem(scrutinv1.ReasonProxiesSecretMissing, fmt.Sprintf(
			"spec.proxies.secretRef: Secret %s not found in namespace %s (its key %s lists the proxies: grantor,holder)",
			name, e.Namespace, scrutinv1.ProxiesKey))
		return nil
	}
	if err != nil {
		if sha, _, ok := r.proxiesCopySHA256(ctx, in); ok {
			in.Proxies = &specs.ProxiesCopy{SHA256: sha}
		}
		return fmt.Errorf("while reading the proxies, Secret %s/%s: %w", e.Namespace, name, err)
	}
	data, ok := s.Data[scrutinv1.ProxiesKey]
	var problem string
	reason := scrutinv1.ReasonProxiesInvalid
	switch {
	case !ok:
		reason, problem = scrutinv1.ReasonProxiesKeyMissing, fmt.Sprintf("spec.proxies.secretRef: Secret %s has no key %q", name, scrutinv1.ProxiesKey)
	case len(data) > maxProxiesBytes:
		problem = fmt.Sprintf("spec.proxies.secretRef: Secret %s, key %q holds more than %d bytes", name, scrutinv1.ProxiesKey, maxProxiesBytes)
	default:
		if _, err := roll.ParseProxies(data); err != nil {
			problem = fmt.Sprintf("spec.proxies.secretRef: Secret %s, key %q: %v", name, scrutinv1.ProxiesKey, err)
		}
	}
	if problem != "" {
		in.keepProxiesCopy = false
		in.addProblem(reason, problem)
		return nil
	}
	sha := sha256Hex(data)
	if existing, _, ok := r.proxiesCopySHA256(ctx, in); !ok || existing != sha {
		c := specs.SecretOf(&in.Inputs, specs.ProxiesSecretName, map[string][]byte{scrutinv1.ProxiesKey: data})
		c.Annotations = map[string]string{specs.ProxiesSHA256Annotation: sha}
		if err := r.apply(ctx, c); err != nil {
			return fmt.Errorf("while copying the proxies: %w", err)
		}
	}
	in.keepProxiesCopy = false
	in.Proxies = &specs.ProxiesCopy{SHA256: sha}
	return nil
}

// proxiesCopySHA256 is the SHA-256 annotated on the election's copy of its
// proxies and the copy's resourceVersion, and whether a copy was read.
func (r *ElectionReconciler) proxiesCopySHA256(ctx context.Context, in *Inputs) (sha, version string, ok bool) {
	var m metav1.PartialObjectMetadata
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.ProxiesSecretName}, &m); err != nil {
		return "", "", false
	}
	sha = m.Annotations[specs.ProxiesSHA256Annotation]
	return sha, m.ResourceVersion, sha != ""
}
