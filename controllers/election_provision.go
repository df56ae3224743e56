package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/internal/specs"
)

// errConflict: something the controller does not own stands where an election's
// object goes.
var errConflict = errors.New("conflict with an object Scrutin does not own")

// Resolver looks up host addresses (net.DefaultResolver in production).
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// problem is something that keeps the election from being Ready, in words for the
// tenant; the first one found becomes the Ready condition's reason.
type problem struct{ reason, message string }

// provision converges the election's namespace and every object in it. It returns
// the inputs it built them from, with the problems it met, and the errors worth a
// retry.
func (r *ElectionReconciler) provision(ctx context.Context, e *scrutinv1.Election) (*Inputs, error) {
	in := &Inputs{Inputs: specs.Inputs{Election: e, Namespace: specs.NamespaceName(e), Options: r.Options,
		Now: r.Clock(types.NamespacedName{Namespace: e.Namespace, Name: e.Name})}}
	in.Retired = retired(e, in.Now)
	e.Status.Namespace = in.Namespace
	if err := r.resolveHost(ctx, in); err != nil {
		return in, err
	}

	if err := r.ensureNamespace(ctx, in); err != nil {
		return in, err
	}
	publicURL, err := r.runtimePublicURL(ctx, in)
	if err != nil {
		return in, err
	}
	in.PublicURL = publicURL
	keys, err := r.ensureKeys(ctx, in)
	if err != nil {
		return in, err
	}
	in.Keys = keys
	if err := r.ensureTrusteeKey(ctx, in); err != nil {
		return in, err
	}
	r.checkTrustees(in)

	// Each step below runs even when another fails, so one bad Secret does not keep
	// the rest of the namespace from converging.
	errs := []error{
		r.loadRoll(ctx, in),
		r.loadCredentials(ctx, in),
		r.loadProxies(ctx, in),
		r.loadDelivery(ctx, in),
		r.ensureDatabase(ctx, in),
	}
	in.Egress = r.egressEndpoints(ctx, in)
	if err := r.decideRuntime(ctx, in); err != nil {
		// without knowing what the pods run, the Deployment is left as it is
		in.addProblem(scrutinv1.ReasonProvisioningFailed, err.Error())
		return in, err
	}
	objs, err := specs.DesiredObjects(&in.Inputs)
	if err != nil {
		return in, err
	}
	deploymentApplied := false
	for _, obj := range objs {
		if obj.GetName() == specs.RuntimeTemplateName && !deploymentApplied {
			continue // the record says what the Deployment took, never more
		}
		if err := r.apply(ctx, obj); err != nil {
			errs = append(errs, fmt.Errorf("while applying %T %s: %w", obj, obj.GetName(), err))
			continue
		}
		switch obj.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.noteFloor(e, in.Now)
		case *appsv1.Deployment:
			deploymentApplied = true
		}
	}
	errs = append(errs, r.applyScrutineerSecret(ctx, in))
	errs = append(errs, r.prune(ctx, in, objs))
	if err := errors.Join(errs...); err != nil {
		in.addProblem(scrutinv1.ReasonProvisioningFailed, err.Error())
		return in, err
	}
	in.provisioned = true
	return in, nil
}

// applyScrutineerSecret hands the scrutineers' token to the tenant, unless a Secret
// of that name that is not this election's stands there: it is never overwritten.
func (r *ElectionReconciler) applyScrutineerSecret(ctx context.Context, in *Inputs) error {
	e := in.Election
	var existing corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: specs.ScrutineerSecretName(e)}, &existing)
	switch {
	case err == nil && existing.Labels[scrutinv1.LabelElectionUID] != string(e.UID):
		msg := fmt.Sprintf("Secret %s already exists and is not this election's; the scrutineers' token was not written there", specs.ScrutineerSecretName(e))
		in.addProblem(scrutinv1.ReasonScrutineerSecretConflict, msg)
		return nil
	case err != nil && !isNotFound(err):
		return fmt.Errorf("while reading the scrutineers' Secret: %w", err)
	}
	if err := r.apply(ctx, specs.ScrutineerSecret(&in.Inputs, e.Status.URL)); err != nil {
		return fmt.Errorf("while applying the scrutineers' Secret: %w", err)
	}
	return nil
}

// ensureNamespace creates the election's namespace, or checks that the one standing
// there is this election's: another election's or anyone else's is never adopted.
func (r *ElectionReconciler) ensureNamespace(ctx context.Context, in *Inputs) error {
	var ns corev1.Namespace
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: in.Namespace}, &ns)
	switch {
	case isNotFound(err):
		// First provisioning: clear what an earlier Election of the same name left.
		if err := r.deleteOrphanNamespaces(ctx, in.Election.Namespace, in.Election.Name, string(in.Election.UID)); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("while reading namespace %s: %w", in.Namespace, err)
	case ns.Labels[scrutinv1.LabelElectionUID] != string(in.Election.UID):
		msg := fmt.Sprintf("namespace %s exists and does not belong to this Election; Scrutin will not adopt it", in.Namespace)
		in.addProblem(scrutinv1.ReasonNamespaceConflict, msg)
		return errConflict
	case !ns.DeletionTimestamp.IsZero():
		in.addProblem(scrutinv1.ReasonNamespaceTerminating, fmt.Sprintf("namespace %s is being deleted; it will be re-created once it is gone", in.Namespace))
		return fmt.Errorf("namespace %s is terminating", in.Namespace)
	}
	if err := r.apply(ctx, specs.Namespace(&in.Inputs)); err != nil {
		return fmt.Errorf("while applying namespace %s: %w", in.Namespace, err)
	}
	return nil
}

// ensureKeys reads the election's keys, generating them the first time. Keys lost
// after voters were given credentials cannot be recovered: the new ones are
// announced by a Warning event.
func (r *ElectionReconciler) ensureKeys(ctx context.Context, in *Inputs) (specs.Keys, error) {
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: specs.KeysSecretName}, &s)
	if err == nil {
		return specs.KeysFromSecret(&s)
	}
	if !isNotFound(err) {
		return specs.Keys{}, fmt.Errorf("while reading the election's keys: %w", err)
	}
	keys, err := specs.NewKeys()
	if err != nil {
		return specs.Keys{}, err
	}
	in.Keys = keys
	if err := r.apply(ctx, specs.Secrets(&in.Inputs)[0]); err != nil {
		return specs.Keys{}, fmt.Errorf("while storing the election's keys: %w", err)
	}
	if phaseAtLeast(in.Election.Status.Phase, scrutinv1.PhaseOpen) {
		r.event(in.Election, corev1.EventTypeWarning, scrutinv1.EventKeysRegenerated, "Provision",
			"The election's keys Secret was deleted and new keys were generated: open sessions ended, and credentials already sent no longer work")
	}
	return keys, nil
}

// prunable are the kinds whose objects come and go with the spec (the roll copy, the
// delivery and database Secrets), with the route kinds of the platform's options
// (routeKinds: a route goes when its host does). Volumes are never pruned.
var prunable = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Secret"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"},
	// the autoscaler goes when the runtime is retired (scaled to zero)
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
}

// prune deletes the election's objects of the prunable kinds that are no longer
// desired.
func (r *ElectionReconciler) prune(ctx context.Context, in *Inputs, desired []client.Object) error {
	want := map[string]bool{}
	for _, o := range desired {
		want[o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName()] = true
	}
	if in.Roll != nil {
		for _, p := range in.Roll.Parts {
			want["Secret/"+p.Name] = true
		}
	}
	// the platform trustee's key, once made, is never pruned (ensureTrusteeKey)
	want["Secret/"+specs.TrusteeKeySecretName] = true
	if in.Credentials != nil || in.keepCredentialsCopy {
		want["Secret/"+specs.CredentialsSecretName] = true
	}
	if in.Proxies != nil || in.keepProxiesCopy {
		want["Secret/"+specs.ProxiesSecretName] = true
	}
	var errs []error
	for _, gvk := range append(prunable, specs.RouteKinds(r.Options.Route)...) {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.APIReader.List(ctx, list, client.InNamespace(in.Namespace),
			client.MatchingLabels{scrutinv1.LabelElectionUID: string(in.Election.UID)}); err != nil {
			errs = append(errs, fmt.Errorf("while listing %ss to prune: %w", gvk.Kind, err))
			continue
		}
		for i := range list.Items {
			item := &list.Items[i]
			if want[gvk.Kind+"/"+item.Name] ||
				(in.keepRollCopies && gvk.Kind == "Secret" && (item.Name == specs.RollSecretName || isRollCopyName(item.Name))) {
				continue
			}
			item.SetGroupVersionKind(gvk)
			if err := r.Delete(ctx, item); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("while pruning %s %s: %w", gvk.Kind, item.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// loadDelivery copies the election's mail and SMS settings from its tenant's
// Secrets, keys prefixed "smtp." and "sms.".
func (r *ElectionReconciler) loadDelivery(ctx context.Context, in *Inputs) error {
	d := in.Election.Spec.Delivery
	channels := []struct {
		prefix  string
		missing string // the Ready condition's reason when the Secret is missing
		ch      *scrutinv1.DeliveryChannel
	}{{contract.DeliverySMTPPrefix, scrutinv1.ReasonDeliverySMTPSecretMissing, d.SMTP}, {contract.DeliverySMSPrefix, scrutinv1.ReasonDeliverySMSSecretMissing, d.SMS}}
	in.Delivery = map[string][]byte{}
	for _, c := range channels {
		if c.ch == nil {
			continue
		}
		data, err := r.tenantSecret(ctx, in, c.ch.SecretRef.Name, c.missing)
		if err != nil || data == nil {
			return err
		}
		for k, v := range data {
			in.Delivery[c.prefix+k] = v
		}
	}
	return nil
}

// tenantSecret reads a Secret of the Election's own namespace, straight from the
// API server (the controller caches no Secret's data). A missing Secret is a problem for
// the tenant to fix, not an error to retry (reason missing on Ready): its
// creation triggers a reconcile.
func (r *ElectionReconciler) tenantSecret(ctx context.Context, in *Inputs, name, missing string) (map[string][]byte, error) {
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: in.Election.Namespace, Name: name}, &s)
	if isNotFound(err) {
		in.addProblem(missing, fmt.Sprintf("Secret %s not found in namespace %s", name, in.Election.Namespace))
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("while reading Secret %s/%s: %w", in.Election.Namespace, name, err)
	}
	return s.Data, nil
}

// egressEndpoints are the addresses of the election's mail server, SMS gateway and
// database, for its egress NetworkPolicy, sorted so the policy is stable.
func (r *ElectionReconciler) egressEndpoints(ctx context.Context, in *Inputs) []specs.Endpoint {
	type hostPort struct {
		host string
		port int32
	}
	var targets []hostPort
	if h := strings.TrimSpace(string(in.Delivery[contract.SettingSMTPHost])); h != "" {
		targets = append(targets, hostPort{h, portOr(string(in.Delivery[contract.SettingSMTPPort]), contract.SMTPSubmissionPort)})
	}
	if u, err := url.Parse(strings.TrimSpace(string(in.Delivery[contract.SettingSMSURL]))); err == nil && u.Hostname() != "" {
		def := int32(443)
		if u.Scheme == "http" {
			def = 80
		}
		targets = append(targets, hostPort{u.Hostname(), portOr(u.Port(), def)})
	}
	if in.Database != nil {
		if u, err := url.Parse(in.Database.DSN); err == nil && u.Hostname() != "" {
			targets = append(targets, hostPort{u.Hostname(), portOr(u.Port(), 5432)})
		}
	}
	seen := map[specs.Endpoint]bool{}
	var eps []specs.Endpoint
	for _, t := range targets {
		addrs := []string{t.host}
		if net.ParseIP(t.host) == nil {
			lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			var err error
			addrs, err = r.Resolver.LookupHost(lctx, t.host)
			cancel()
			if err != nil {
				in.addProblem(scrutinv1.ReasonEgressUnresolved, fmt.Sprintf("cannot resolve %s for the egress policy: %v", t.host, err))
				continue
			}
		}
		for _, a := range addrs {
			ip := net.ParseIP(a)
			if ip == nil {
				continue
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			ep := specs.Endpoint{CIDR: fmt.Sprintf("%s/%d", ip.String(), bits), Port: t.port}
			if !seen[ep] {
				seen[ep] = true
				eps = append(eps, ep)
			}
		}
	}
	sort.Slice(eps, func(i, j int) bool {
		if eps[i].CIDR != eps[j].CIDR {
			return eps[i].CIDR < eps[j].CIDR
		}
		return eps[i].Port < eps[j].Port
	})
	return eps
}

func portOr(s string, def int32) int32 {
	if p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32); err == nil && p > 0 && p < 65536 {
		return int32(p)
	}
	return def
}

func (in *Inputs) addProblem(reason, message string) {
	in.problems = append(in.problems, problem{reason, message})
}
