package controllers

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// hostIndex indexes Elections by every host they claim: the one their spec and
// the platform give them, and the one their status.url holds.
const hostIndex = "host"

func (r *ElectionReconciler) indexHosts(o client.Object) []string {
	e := o.(*scrutinv1.Election)
	var hosts []string
	if h, _ := specs.ElectionHost(e, r.Options.BaseDomain); h != "" {
		hosts = append(hosts, h)
	}
	if h := servedHost(e); h != "" && (len(hosts) == 0 || hosts[0] != h) {
		hosts = append(hosts, h)
	}
	return hosts
}

// servedHost is the host of the Election's public voter URL, as its status last
// recorded it; "" when it has none.
func servedHost(e *scrutinv1.Election) string {
	u, err := url.Parse(e.Status.URL)
	if err != nil || u.Scheme != "https" {
		return ""
	}
	return u.Hostname()
}

// precedes reports whether a keeps host from b: an Election that already serves
// it keeps it; among those that claim it without serving it yet (or that both
// serve it, after a race), the oldest (creationTimestamp, then uid) wins. Both
// sides reach the same answer whatever order they are reconciled in.
func precedes(a, b *scrutinv1.Election, host string) bool {
	if aServes, bServes := servedHost(a) == host, servedHost(b) == host; aServes != bServes {
		return aServes
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.UID < b.UID
}

// resolveHost sets the election's host and voter URL. While an election is
// open, closed or tallied its host does not move: the letters voters received
// name it. A host another Election keeps is not routed to this one, which says
// so (HostnameTaken). Without a host the voter URL is the in-cluster Service.
func (r *ElectionReconciler) resolveHost(ctx context.Context, in *Inputs) error {
	e := in.Election
	host, p := specs.ElectionHost(e, r.Options.BaseDomain)
	if served := servedHost(e); served != "" && served != host && phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) {
		if e.Generation != e.Status.ObservedGeneration {
			// said once, when the spec that asks for another host is first seen
			r.event(e, corev1.EventTypeWarning, scrutinv1.EventHostnameKept, "Route", fmt.Sprintf(
				"The election keeps its host %s until it is deleted: its voters were given that address", served))
		}
		host, p = served, nil
	}
	// until a host is settled, the voter URL is the in-cluster Service's; the
	// election's own claim (its status as read) is kept for the comparison
	self := e.DeepCopy()
	in.Host, e.Status.URL = "", specs.InClusterURL(in.Namespace)
	if p != nil {
		in.addProblem(p.Reason, p.Message)
		return nil
	}
	if host == "" {
		return nil
	}
	var claimants scrutinv1.ElectionList
	if err := r.List(ctx, &claimants, client.MatchingFields{hostIndex: host}); err != nil {
		return fmt.Errorf("while listing the Elections claiming host %s: %w", host, err)
	}
	for i := range claimants.Items {
		if claimants.Items[i].UID == e.UID {
			continue
		}
		// the cache may lag the other's status by a moment: read it live, so
		// that an Election serving the host is seen as serving it
		other := &scrutinv1.Election{}
		err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(&claimants.Items[i]), other)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("while reading Election %s/%s, which claims host %s: %w",
				claimants.Items[i].Namespace, claimants.Items[i].Name, host, err)
		}
		if other.UID != e.UID && slices.Contains(r.indexHosts(other), host) && precedes(other, self, host) {
			msg := fmt.Sprintf("host %s belongs to Election %s/%s; no route was made for this one: choose another spec.hostname",
				host, other.Namespace, other.Name)
			in.addProblem(scrutinv1.ReasonHostnameTaken, msg)
			return nil
		}
	}
	in.Host, e.Status.URL = host, specs.HostURL(host)
	return nil
}

// runtimePublicURL is the voter URL the runtime is started with. A Scheduled
// election's runtime takes the current one (its pods roll when it changes);
// an open, closed or tallied one's keeps the value its pods run with, even
// none, so that neither a new host nor a manager upgrade restarts them during
// the vote.
func (r *ElectionReconciler) runtimePublicURL(ctx context.Context, in *Inputs) (string, error) {
	want := ""
	if in.Host != "" {
		want = in.Election.Status.URL
	}
	if !phaseAtLeast(in.Election.Status.Phase, scrutinv1.PhaseOpen) {
		return want, nil
	}
	// read live: a cached copy a moment old could put back an argument the
	// running pods do not have, and restart them
	var d appsv1.Deployment
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: in.Namespace, Name: specs.RuntimeName}, &d)
	if isNotFound(err) {
		return want, nil
	}
	if err != nil {
		return "", fmt.Errorf("while reading the runtime's Deployment: %w", err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name != specs.RuntimeName {
			continue
		}
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, specs.PublicURLFlag); ok {
				return v, nil
			}
		}
	}
	return "", nil
}

// electionsSharingHost maps an Election to the others claiming one of its
// hosts, so that a host released (or taken) is looked at again by the others.
// Called with both the old and the new object of an update.
func (r *ElectionReconciler) electionsSharingHost(ctx context.Context, o client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	seen := map[types.NamespacedName]bool{{Namespace: o.GetNamespace(), Name: o.GetName()}: true}
	for _, host := range r.indexHosts(o) {
		var list scrutinv1.ElectionList
		if err := r.List(ctx, &list, client.MatchingFields{hostIndex: host}); err != nil {
			continue
		}
		for _, e := range list.Items {
			key := types.NamespacedName{Namespace: e.Namespace, Name: e.Name}
			if !seen[key] {
				seen[key] = true
				reqs = append(reqs, reconcile.Request{NamespacedName: key})
			}
		}
	}
	return reqs
}
