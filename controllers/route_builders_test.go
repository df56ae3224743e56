package controllers

import (
	"maps"
	"slices"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

func TestElectionHost(t *testing.T) {
	for name, tc := range map[string]struct {
		name, ns, hostname, base string
		want, problem            string
	}{
		"readable":            {name: "board", ns: "acme", base: "vote.example", want: "board.acme.vote.example"},
		"spec.hostname":       {name: "board", ns: "acme", hostname: "vote.acme.org", base: "vote.example", want: "vote.acme.org"},
		"spec.hostname alone": {name: "board", ns: "acme", hostname: "vote.acme.org", want: "vote.acme.org"},
		"no base domain":      {name: "board", ns: "acme"},
		"a dotted name":       {name: "board.2026", ns: "acme", base: "vote.example", problem: scrutinv1.ReasonHostnameNeeded},
		"a 64-character name": {name: strings.Repeat("b", 64), ns: "acme", base: "vote.example", problem: scrutinv1.ReasonHostnameNeeded},
		"longer than 253":     {name: strings.Repeat("b", 63), ns: strings.Repeat("n", 63), base: strings.Repeat("d", 63) + "." + strings.Repeat("e", 63), problem: scrutinv1.ReasonHostnameNeeded},
		"exactly 253":         {name: strings.Repeat("b", 63), ns: strings.Repeat("n", 63), base: strings.Repeat("d", 63) + "." + strings.Repeat("e", 61), want: strings.Repeat("b", 63) + "." + strings.Repeat("n", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 61)},
	} {
		t.Run(name, func(t *testing.T) {
			e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: tc.ns}}
			e.Spec.Hostname = tc.hostname
			got, p := electionHost(e, tc.base)
			if got != tc.want {
				t.Errorf("host %q, want %q", got, tc.want)
			}
			switch {
			case tc.problem == "" && p != nil:
				t.Errorf("problem %+v", p)
			case tc.problem != "" && (p == nil || p.reason != tc.problem || !strings.Contains(p.message, "spec.hostname")):
				t.Errorf("problem %+v, want %s asking for spec.hostname", p, tc.problem)
			}
		})
	}
}

func TestPrecedes(t *testing.T) {
	old := metav1.Unix(1000, 0)
	young := metav1.Unix(2000, 0)
	mk := func(uid string, created metav1.Time, url string) *scrutinv1.Election {
		e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{UID: k8stypes.UID("uid-" + uid), CreationTimestamp: created}}
		e.Status.URL = url
		return e
	}
	const host = "vote.example.org"
	for name, tc := range map[string]struct {
		a, b *scrutinv1.Election
		want bool
	}{
		"the older claimant":             {mk("a", old, ""), mk("b", young, ""), true},
		"the younger claimant":           {mk("a", young, ""), mk("b", old, ""), false},
		"the one serving keeps it":       {mk("a", young, "https://"+host+"/"), mk("b", old, ""), true},
		"against the one serving":        {mk("a", old, ""), mk("b", young, "https://"+host+"/"), false},
		"both serving: the older":        {mk("a", old, "https://"+host+"/"), mk("b", young, "https://"+host+"/"), true},
		"same second: the smaller uid":   {mk("a", old, ""), mk("b", old, ""), true},
		"same second: not the larger":    {mk("b", old, ""), mk("a", old, ""), false},
		"another host served is no hold": {mk("a", young, "https://other.example.org/"), mk("b", old, ""), false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := precedes(tc.a, tc.b, host); got != tc.want {
				t.Errorf("precedes = %v, want %v", got, tc.want)
			}
			if tc.a.UID != tc.b.UID && precedes(tc.b, tc.a, host) == precedes(tc.a, tc.b, host) {
				t.Error("both (or neither) keep the host")
			}
		})
	}
}

func TestParseGatewayAndIssuer(t *testing.T) {
	for in, want := range map[string]GatewayRef{
		"edge/voters": {Namespace: "edge", Name: "voters", SectionName: "https"},
		"voters":      {Namespace: "scrutin-system", Name: "voters", SectionName: "https"},
	} {
		got, err := ParseGateway(in, "scrutin-system", "https")
		if err != nil || got != want {
			t.Errorf("ParseGateway(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"Edge/voters", "edge/", "a/b/c"} {
		if _, err := ParseGateway(bad, "scrutin-system", ""); err == nil {
			t.Errorf("ParseGateway(%q) accepted", bad)
		}
	}
	for in, want := range map[string]IssuerRef{
		"ClusterIssuer/letsencrypt": {Kind: "ClusterIssuer", Name: "letsencrypt"},
		"Issuer/ca":                 {Kind: "Issuer", Name: "ca"},
		"letsencrypt":               {Kind: "ClusterIssuer", Name: "letsencrypt"},
	} {
		got, err := ParseIssuer(in)
		if err != nil || got != want {
			t.Errorf("ParseIssuer(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := ParseIssuer("Secret/ca"); err == nil {
		t.Error("ParseIssuer accepted a Secret")
	}
}

// A manager without routing names no route kind to its cache: the cluster may
// have neither the Gateway API nor cert-manager, and the cache would fail to start.
func TestCacheNamesOnlyTheRouteKindsInUse(t *testing.T) {
	for name, tc := range map[string]struct {
		route RouteOptions
		want  []string
	}{
		"no route":                   {RouteOptions{}, nil},
		"gateway":                    {RouteOptions{Gateway: GatewayRef{Namespace: "edge", Name: "voters"}}, []string{"HTTPRoute"}},
		"ingress":                    {RouteOptions{IngressClass: "nginx"}, []string{"Ingress"}},
		"gateway with a certificate": {RouteOptions{Gateway: GatewayRef{Namespace: "edge", Name: "voters"}, CertIssuer: IssuerRef{Kind: "ClusterIssuer", Name: "ca"}}, []string{"Certificate", "HTTPRoute"}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for o := range CacheOptions(tc.route).ByObject {
				switch o.(type) {
				case *gatewayv1.HTTPRoute:
					got = append(got, "HTTPRoute")
				case *networkingv1.Ingress:
					got = append(got, "Ingress")
				case *cmapi.Certificate:
					got = append(got, "Certificate")
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("route kinds cached %v, want %v", got, tc.want)
			}
		})
	}
}

// The Gateway's namespace reaches the voters' port, never the operations port.
func TestGatewayNamespaceAdmitted(t *testing.T) {
	for name, tc := range map[string]struct {
		labels map[string]string
		want   map[string]string
	}{
		"no ingress labels: the Gateway's namespace": {nil, map[string]string{namespaceNameLabel: "edge"}},
		"the platform's own labels are kept":         {map[string]string{"ingress": "true"}, map[string]string{"ingress": "true"}},
	} {
		t.Run(name, func(t *testing.T) {
			o := Options{OperatorNamespace: "scrutin-system", IngressNamespaceLabels: tc.labels,
				Route: RouteOptions{Gateway: GatewayRef{Namespace: "edge", Name: "voters"}}}
			o.AdmitGatewayNamespace()
			e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "board", UID: "u1"}}
			var voters, ops []map[string]string
			for _, np := range buildNetworkPolicies(&Inputs{Election: e, Namespace: "scrutin-board-x", Options: o}) {
				for _, rule := range np.Spec.Ingress {
					for _, p := range rule.Ports {
						for _, from := range rule.From {
							if from.NamespaceSelector == nil {
								continue
							}
							if p.Port.IntValue() == RuntimePort {
								voters = append(voters, from.NamespaceSelector.MatchLabels)
							} else if p.Port.IntValue() == OpsPort {
								ops = append(ops, from.NamespaceSelector.MatchLabels)
							}
						}
					}
				}
			}
			if !slices.ContainsFunc(voters, func(m map[string]string) bool { return maps.Equal(m, tc.want) }) {
				t.Errorf("voters' port admits %v, want %v among them", voters, tc.want)
			}
			if slices.ContainsFunc(ops, func(m map[string]string) bool { return maps.Equal(m, tc.want) }) {
				t.Errorf("the operations port admits %v", tc.want)
			}
		})
	}
}
