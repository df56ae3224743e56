package controllers

import (
	"slices"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

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

// A manager without routing names no route kind to its cache: the cluster may
// have neither the Gateway API nor cert-manager, and the cache would fail to start.
func TestCacheNamesOnlyTheRouteKindsInUse(t *testing.T) {
	for name, tc := range map[string]struct {
		route specs.RouteOptions
		want  []string
	}{
		"no route":                   {specs.RouteOptions{}, nil},
		"gateway":                    {specs.RouteOptions{Gateway: specs.GatewayRef{Namespace: "edge", Name: "voters"}}, []string{"HTTPRoute"}},
		"ingress":                    {specs.RouteOptions{IngressClass: "nginx"}, []string{"Ingress"}},
		"gateway with a certificate": {specs.RouteOptions{Gateway: specs.GatewayRef{Namespace: "edge", Name: "voters"}, CertIssuer: specs.IssuerRef{Kind: "ClusterIssuer", Name: "ca"}}, []string{"Certificate", "HTTPRoute"}},
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
