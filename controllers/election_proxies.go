package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/store"
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
		refuseProxies(in, scrutinv1.ReasonProxiesSecretMissing, fmt.Sprintf(
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
		refuseProxies(in, reason, problem)
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
	return r.checkProxies(ctx, in, data, sha)
}

// refuseProxies keeps the election from Ready and says why in ProxiesValid.
func refuseProxies(in *Inputs, reason, message string) {
	in.addProblem(reason, message)
	in.observed.proxies = &verdict{status: metav1.ConditionFalse, reason: reason, message: message}
}

// proxyCheck is the organiser's list checked against the roll: the lines
// refused, by number and reason, and the proxies kept; key names the list,
// the roll and the cap it was made for.
type proxyCheck struct {
	key     string
	kept    int
	refused []contract.ProxyRefusal
}

// maxProxyLinesInStatus bounds the refused lines ProxiesValid names (kubectl
// scrutin proxies lists them all, from the runtime).
const maxProxyLinesInStatus = 20

// checkProxies checks each line of the organiser's list as the runtime will
// declare it (store.CheckProxy, in order: both ids on the roll, no chain, one
// proxy a grantor, the cap) and says so in ProxiesValid, each refused line by
// its number and reason, never by its ids. The roll is read again, its voter
// ids looked up among the list's alone (memory bounded by the list); the
// result is kept until the list, the roll or the cap changes. Without a valid
// roll the check waits for one. A refused line does not keep the election from
// Ready: the other proxies stand, and the runtime refuses the line alike.
func (r *ElectionReconciler) checkProxies(ctx context.Context, in *Inputs, data []byte, sha string) error {
	e := in.Election
	if in.Roll == nil {
		return nil
	}
	key := sha + "/" + fmt.Sprint(e.Spec.Proxies.MaxPerHolder)
	for _, p := range in.Roll.Parts {
		key += "/" + p.SHA256
	}
	var c *proxyCheck
	if v, ok := r.proxyChecks.Load(client.ObjectKeyFromObject(e)); ok && v.(*proxyCheck).key == key {
		c = v.(*proxyCheck)
	} else {
		lines, err := roll.ParseProxies(data)
		if err != nil {
			return err // checked before the copy: not reached
		}
		onRoll, err := r.rollHas(ctx, e, lines)
		if err != nil {
			return err
		}
		c = &proxyCheck{key: key}
		gave, holds := map[string]bool{}, map[string]int{}
		for _, l := range lines {
			p := store.Proxy{Grantor: l.Grantor, Holder: l.Holder, Line: l.Line}
			err := store.CheckProxy(p, store.ProxyCounts{
				GrantorOnRoll: onRoll[l.Grantor], HolderOnRoll: onRoll[l.Holder],
				GrantorGave: gave[l.Grantor], HolderGave: gave[l.Holder],
				GrantorHolds: holds[l.Grantor], HolderHolds: holds[l.Holder],
			}, int(e.Spec.Proxies.MaxPerHolder))
			if err != nil {
				c.refused = append(c.refused, contract.ProxyRefusal{Line: l.Line, Reason: store.ProxyReason(err)})
				continue
			}
			gave[l.Grantor] = true
			holds[l.Holder]++
			c.kept++
		}
		r.proxyChecks.Store(client.ObjectKeyFromObject(e), c)
	}
	if len(c.refused) == 0 {
		in.observed.proxies = &verdict{status: metav1.ConditionTrue, reason: scrutinv1.ReasonProxiesAccepted,
			message: fmt.Sprintf("the %d proxies of spec.proxies.secretRef's %s are kept", c.kept, scrutinv1.ProxiesKey)}
		return nil
	}
	parts := make([]string, 0, min(len(c.refused), maxProxyLinesInStatus))
	for _, x := range c.refused[:min(len(c.refused), maxProxyLinesInStatus)] {
		parts = append(parts, fmt.Sprintf("line %d (%s)", x.Line, contract.ProxyRefusalWords[x.Reason]))
	}
	more := ""
	if len(c.refused) > maxProxyLinesInStatus {
		more = fmt.Sprintf(", and %d more (kubectl scrutin proxies %s lists them all)", len(c.refused)-maxProxyLinesInStatus, e.Name)
	}
	in.observed.proxies = &verdict{status: metav1.ConditionFalse, reason: scrutinv1.ReasonProxiesRefused, message: fmt.Sprintf(
		"spec.proxies.secretRef's %s: %d proxies kept, %d lines refused: %s%s; fix them in Secret %s before the deadline",
		scrutinv1.ProxiesKey, c.kept, len(c.refused), strings.Join(parts, ", "), more, e.Spec.Proxies.SecretRef.Name)}
	return nil
}

// rollHas says which of the ids the list names are on the roll, reading the
// tenant's roll again part after part and keeping those ids alone.
func (r *ElectionReconciler) rollHas(ctx context.Context, e *scrutinv1.Election, lines []roll.ProxyLine) (map[string]bool, error) {
	named := map[string]bool{}
	for _, l := range lines {
		named[l.Grantor], named[l.Holder] = false, false
	}
	parts, problem, err := r.listRollParts(ctx, e)
	if err != nil {
		return nil, err
	}
	if problem != nil {
		return nil, errors.New(problem.message)
	}
	v := roll.NewValidator(roll.Options{MaxErrors: 1})
	for _, p := range parts {
		data, problem, err := r.readPart(ctx, e, p)
		if err == nil && problem != nil {
			err = errors.New(problem.message)
		}
		if err != nil {
			return nil, err
		}
		if err := v.ReadPart(roll.Part{Index: p.Index - 1, Count: len(parts)}, bytes.NewReader(data), func(vt roll.Voter) error {
			if _, ok := named[vt.ID]; ok {
				named[vt.ID] = true
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return named, nil
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
