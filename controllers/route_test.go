package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// The suite's manager routes through the Gateway gateway-system/voters (listener
// https) under vote.test, with cert-manager's ClusterIssuer platform-ca (testOpt).

func getRoute(ns string) (*gatewayv1.HTTPRoute, error) {
	var r gatewayv1.HTTPRoute
	err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: specs.RouteName}, &r)
	return &r, err
}

func TestElectionGetsItsRoute(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "board", time.Hour, 2*time.Hour))
	e = waitPhase(t, e, scrutinv1.PhaseScheduled, 30*time.Second)
	host := "board." + ns + ".vote.test"
	if want := "https://" + host + "/"; e.Status.URL != want {
		t.Fatalf("status.url %q, want %q", e.Status.URL, want)
	}
	rns := e.Status.Namespace

	var route *gatewayv1.HTTPRoute
	waitFor(t, "the HTTPRoute", 10*time.Second, func() (bool, string) {
		var err error
		route, err = getRoute(rns)
		return err == nil, fmt.Sprint(err)
	})
	if len(route.Spec.ParentRefs) != 1 {
		t.Fatalf("parentRefs %+v", route.Spec.ParentRefs)
	}
	p := route.Spec.ParentRefs[0]
	if p.Name != "voters" || p.Namespace == nil || *p.Namespace != "gateway-system" || p.SectionName == nil || *p.SectionName != "https" ||
		p.Kind == nil || *p.Kind != "Gateway" {
		t.Errorf("parentRef %+v, want Gateway gateway-system/voters, listener https", p)
	}
	if !slices.Equal(route.Spec.Hostnames, []gatewayv1.Hostname{gatewayv1.Hostname(host)}) {
		t.Errorf("hostnames %v, want [%s]", route.Spec.Hostnames, host)
	}
	// the voters' Service on its only port is the only backend: the operations
	// port is never routed
	var backends []string
	for _, rule := range route.Spec.Rules {
		for _, b := range rule.BackendRefs {
			backends = append(backends, fmt.Sprintf("%s:%d", b.Name, *b.Port))
		}
	}
	if want := []string{fmt.Sprintf("%s:%d", specs.RuntimeName, specs.VoterServicePort)}; !slices.Equal(backends, want) {
		t.Errorf("backends %v, want %v", backends, want)
	}
	for _, b := range backends {
		if strings.Contains(b, specs.OpsServiceName) || strings.HasSuffix(b, fmt.Sprintf(":%d", specs.OpsPort)) {
			t.Errorf("the operations port is routed: %s", b)
		}
	}

	// cert-manager's Certificate for the host
	var cert cmapi.Certificate
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: rns, Name: specs.RouteName}, &cert); err != nil {
		t.Fatalf("no Certificate: %v", err)
	}
	if !slices.Equal(cert.Spec.DNSNames, []string{host}) || cert.Spec.SecretName != specs.TLSSecretName ||
		cert.Spec.IssuerRef.Kind != "ClusterIssuer" || cert.Spec.IssuerRef.Name != "platform-ca" || cert.Spec.IssuerRef.Group != "cert-manager.io" {
		t.Errorf("Certificate spec %+v", cert.Spec)
	}

	// the runtime writes the same URL in its letters
	var d appsv1.Deployment
	if err := k8s.Get(ctx, types.NamespacedName{Namespace: rns, Name: specs.RuntimeName}, &d); err != nil {
		t.Fatal(err)
	}
	if args := d.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, specs.PublicURLFlag+e.Status.URL) {
		t.Errorf("runtime args %v, want %s%s", args, specs.PublicURLFlag, e.Status.URL)
	}

	// a deleted route comes back
	if err := k8s.Delete(ctx, route); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the HTTPRoute to come back", 10*time.Second, func() (bool, string) {
		r, err := getRoute(rns)
		return err == nil && r.UID != route.UID, fmt.Sprint(err)
	})
}

func TestHostnameTakenAcrossTenants(t *testing.T) {
	ctx := context.Background()
	nsA, nsB := newTenant(t), newTenant(t)
	host := "council-" + strings.TrimPrefix(nsA, "tenant-") + ".example.org"
	a := newElection(t, nsA, "council", time.Hour, 2*time.Hour)
	a.Spec.Hostname = host
	a = waitPhase(t, create(t, a), scrutinv1.PhaseScheduled, 30*time.Second)
	if a.Status.URL != "https://"+host+"/" {
		t.Fatalf("first Election's status.url %q", a.Status.URL)
	}

	b := newElection(t, nsB, "council", time.Hour, 2*time.Hour)
	b.Spec.Hostname = host
	create(t, b)
	waitFor(t, "the second Election to be refused the host", 30*time.Second, func() (bool, string) {
		b = getElection(t, b)
		c := condition(b, scrutinv1.ConditionReady)
		first := getElection(t, a)
		return c.Status == metav1.ConditionFalse && c.Reason == scrutinv1.ReasonHostnameTaken, fmt.Sprintf("Ready %+v; url %s; first: %s %s uid %s, second created %s uid %s",
			c, b.Status.URL, first.Status.URL, first.CreationTimestamp, first.UID, b.CreationTimestamp, b.UID)
	})
	if msg := condition(b, scrutinv1.ConditionReady).Message; !strings.Contains(msg, nsA+"/council") || !strings.Contains(msg, host) {
		t.Errorf("the condition does not name the host and the Election holding it: %q", msg)
	}
	if strings.Contains(b.Status.URL, host) {
		t.Errorf("second Election's status.url %q names the host it does not have", b.Status.URL)
	}
	if _, err := getRoute(b.Status.Namespace); err == nil {
		t.Error("the second Election has a route to the host")
	}
	if r, err := getRoute(a.Status.Namespace); err != nil || string(r.Spec.Hostnames[0]) != host {
		t.Errorf("the first Election lost its route: %v", err)
	}

	// the first one moves to another host: the second gets it
	a = getElection(t, a)
	a.Spec.Hostname = "other-" + host
	if err := k8s.Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second Election to be routed once the host is free", 30*time.Second, func() (bool, string) {
		r, err := getRoute(b.Status.Namespace)
		if err != nil {
			return false, err.Error()
		}
		b = getElection(t, b)
		return string(r.Spec.Hostnames[0]) == host && b.Status.URL == "https://"+host+"/", fmt.Sprintf("url %q", b.Status.URL)
	})
}

func TestHostnameValidation(t *testing.T) {
	ns := newTenant(t)
	for _, bad := range []string{"Vote.Example.org", "vote_1.example.org", "localhost", "*.example.org", strings.Repeat("a", 64) + ".example.org"} {
		e := newElection(t, ns, fmt.Sprintf("v%d", len(bad)), time.Hour, 2*time.Hour)
		e.Spec.Hostname = bad
		err := k8s.Create(context.Background(), e, client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "spec.hostname") {
			t.Errorf("hostname %q: %v, want a refusal naming spec.hostname", bad, err)
		}
	}
	e := newElection(t, ns, "good", time.Hour, 2*time.Hour)
	e.Spec.Hostname = "vote.example.org"
	if err := k8s.Create(context.Background(), e, client.DryRunAll); err != nil {
		t.Errorf("a valid hostname was refused: %v", err)
	}
}

// The Ingress, for clusters without the Gateway API: the API server accepts it as
// built, with its class, host, path and the voters' port as its only backend.
func TestIngressRoute(t *testing.T) {
	ns := newTenant(t)
	e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "board", UID: "u1"}}
	for name, issuer := range map[string]specs.IssuerRef{"class certificate": {}, "cert-manager": {Kind: "ClusterIssuer", Name: "ca"}} {
		t.Run(name, func(t *testing.T) {
			opts := testOpt
			opts.Route = specs.RouteOptions{IngressClass: "traefik", CertIssuer: issuer}
			in := &Inputs{Inputs: specs.Inputs{Election: e, Namespace: ns, Options: opts, Host: "board." + ns + ".vote.test"}}
			objs := specs.Route(&in.Inputs)
			ing, ok := objs[0].(*networkingv1.Ingress)
			if !ok {
				t.Fatalf("first route object %T, want an Ingress", objs[0])
			}
			if err := k8s.Create(context.Background(), ing, client.DryRunAll); err != nil {
				t.Fatalf("the API server refused the Ingress: %v", err)
			}
			if *ing.Spec.IngressClassName != "traefik" || len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != in.Host {
				t.Errorf("class %v rules %+v", *ing.Spec.IngressClassName, ing.Spec.Rules)
			}
			paths := ing.Spec.Rules[0].HTTP.Paths
			if len(paths) != 1 || paths[0].Path != "/" || *paths[0].PathType != networkingv1.PathTypePrefix ||
				paths[0].Backend.Service.Name != specs.RuntimeName || paths[0].Backend.Service.Port.Number != specs.VoterServicePort {
				t.Errorf("paths %+v, want / to %s:%d", paths, specs.RuntimeName, specs.VoterServicePort)
			}
			tls := ing.Spec.TLS
			if len(tls) != 1 || !slices.Equal(tls[0].Hosts, []string{in.Host}) {
				t.Fatalf("tls %+v", tls)
			}
			if issuer.Name == "" && (tls[0].SecretName != "" || len(objs) != 1) {
				t.Errorf("without cert-manager: secret %q and %d objects, want the class's certificate and no Certificate", tls[0].SecretName, len(objs))
			}
			if issuer.Name != "" {
				if tls[0].SecretName != specs.TLSSecretName || len(objs) != 2 {
					t.Errorf("with cert-manager: secret %q and %d objects, want %s and a Certificate", tls[0].SecretName, len(objs), specs.TLSSecretName)
				}
			}
		})
	}
}

// Two Elections of two tenants written at once with one host: exactly one gets the
// route and keeps it, whatever order they were reconciled in.
func TestHostnameClaimedAtOnce(t *testing.T) {
	nsA, nsB := newTenant(t), newTenant(t)
	host := "race-" + strings.TrimPrefix(nsA, "tenant-") + ".example.org"
	a, b := newElection(t, nsA, "race", time.Hour, 2*time.Hour), newElection(t, nsB, "race", time.Hour, 2*time.Hour)
	a.Spec.Hostname, b.Spec.Hostname = host, host
	create(t, a)
	create(t, b)
	waitFor(t, "one Election to hold the host and the other to be refused it", 30*time.Second, func() (bool, string) {
		a, b = getElection(t, a), getElection(t, b)
		_, errA := getRoute(a.Status.Namespace)
		_, errB := getRoute(b.Status.Namespace)
		holdsA, holdsB := errA == nil && servedHost(a) == host, errB == nil && servedHost(b) == host
		takenA := condition(a, scrutinv1.ConditionReady).Reason == scrutinv1.ReasonHostnameTaken
		takenB := condition(b, scrutinv1.ConditionReady).Reason == scrutinv1.ReasonHostnameTaken
		return holdsA != holdsB && takenA == holdsB && takenB == holdsA,
			fmt.Sprintf("a: route %v url %s taken %v; b: route %v url %s taken %v", errA == nil, a.Status.URL, takenA, errB == nil, b.Status.URL, takenB)
	})
	// and it stays so: the one refused does not take the host back
	winner := a
	if servedHost(b) == host {
		winner = b
	}
	time.Sleep(2 * time.Second)
	if w := getElection(t, winner); servedHost(w) != host {
		t.Errorf("%s/%s lost the host it held: status.url %s", w.Namespace, w.Name, w.Status.URL)
	}
	if r, err := getRoute(winner.Status.Namespace); err != nil || string(r.Spec.Hostnames[0]) != host {
		t.Errorf("the holder's route is gone: %v", err)
	}
}

// During the vote the election keeps the host its voters were given, and its pods
// the arguments they run with: neither a new spec.hostname nor a manager that
// would add --public-url restarts them.
func TestOpenElectionKeepsItsHostAndPods(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	e := create(t, newElection(t, ns, "open", -time.Minute, time.Hour))
	cur := waitPhase(t, e, scrutinv1.PhaseOpen, 20*time.Second)
	url := cur.Status.URL
	if url != "https://open."+ns+".vote.test/" {
		t.Fatalf("status.url %q", url)
	}
	key := client.ObjectKey{Namespace: cur.Status.Namespace, Name: specs.RuntimeName}
	var d appsv1.Deployment
	if err := k8s.Get(ctx, key, &d); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, specs.PublicURLFlag+url) {
		t.Fatalf("runtime args %v, want %s%s", d.Spec.Template.Spec.Containers[0].Args, specs.PublicURLFlag, url)
	}

	// a new host during the vote: kept for later, said by an Event
	cur.Spec.Hostname = "moved-" + strings.TrimPrefix(ns, "tenant-") + ".example.org"
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the HostnameKept Event", 10*time.Second, func() (bool, string) {
		r := eventReasons(t, e)
		return slices.Contains(r, scrutinv1.EventHostnameKept), fmt.Sprint(r)
	})
	if cur = getElection(t, e); cur.Status.URL != url {
		t.Errorf("status.url moved to %q during the vote", cur.Status.URL)
	}
	if r, err := getRoute(cur.Status.Namespace); err != nil || string(r.Spec.Hostnames[0]) != "open."+ns+".vote.test" {
		t.Errorf("the route moved during the vote: %v %v", err, r.Spec.Hostnames)
	}
	var after appsv1.Deployment
	if err := k8s.Get(ctx, key, &after); err != nil {
		t.Fatal(err)
	}
	if after.Generation != d.Generation {
		t.Errorf("the Deployment changed (generation %d to %d): its pods would restart", d.Generation, after.Generation)
	}

	// pods started by a manager that gave no --public-url (and kept no record of
	// the pod template it applied) keep running without it: while the manager is
	// stopped, the Deployment loses the flag and the record goes, as after an
	// upgrade from such a release
	time.Sleep(time.Second) // the reconciles of the host change are over
	if err := stopManager(); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, key, &after); err != nil {
		t.Fatal(err)
	}
	args := after.Spec.Template.Spec.Containers[0].Args
	after.Spec.Template.Spec.Containers[0].Args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return strings.HasPrefix(a, specs.PublicURLFlag) })
	if err := k8s.Update(ctx, &after); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: specs.RuntimeTemplateName}}); err != nil {
		t.Fatal(err)
	}
	if err := startManager(testOpt); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // the new manager has reconciled the election
	if err := k8s.Get(ctx, key, &after); err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(after.Spec.Template.Spec.Containers[0].Args, func(a string) bool { return strings.HasPrefix(a, specs.PublicURLFlag) }) {
		t.Errorf("the controller added --public-url to an open election's pods: %v", after.Spec.Template.Spec.Containers[0].Args)
	}
}
