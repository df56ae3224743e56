package specs_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
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
			got, p := specs.ElectionHost(e, tc.base)
			if got != tc.want {
				t.Errorf("host %q, want %q", got, tc.want)
			}
			switch {
			case tc.problem == "" && p != nil:
				t.Errorf("problem %+v", p)
			case tc.problem != "" && (p == nil || p.Reason != tc.problem || !strings.Contains(p.Message, "spec.hostname")):
				t.Errorf("problem %+v, want %s asking for spec.hostname", p, tc.problem)
			}
		})
	}
}

func TestParseGatewayAndIssuer(t *testing.T) {
	for in, want := range map[string]specs.GatewayRef{
		"edge/voters": {Namespace: "edge", Name: "voters", SectionName: "https"},
		"voters":      {Namespace: "scrutin-system", Name: "voters", SectionName: "https"},
	} {
		got, err := specs.ParseGateway(in, "scrutin-system", "https")
		if err != nil || got != want {
			t.Errorf("ParseGateway(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"Edge/voters", "edge/", "a/b/c"} {
		if _, err := specs.ParseGateway(bad, "scrutin-system", ""); err == nil {
			t.Errorf("ParseGateway(%q) accepted", bad)
		}
	}
	for in, want := range map[string]specs.IssuerRef{
		"ClusterIssuer/letsencrypt": {Kind: "ClusterIssuer", Name: "letsencrypt"},
		"Issuer/ca":                 {Kind: "Issuer", Name: "ca"},
		"letsencrypt":               {Kind: "ClusterIssuer", Name: "letsencrypt"},
	} {
		got, err := specs.ParseIssuer(in)
		if err != nil || got != want {
			t.Errorf("ParseIssuer(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := specs.ParseIssuer("Secret/ca"); err == nil {
		t.Error("ParseIssuer accepted a Secret")
	}
}

// The Gateway's namespace reaches the voters' port, never the operations port.
func TestGatewayNamespaceAdmitted(t *testing.T) {
	for name, tc := range map[string]struct {
		labels map[string]string
		want   map[string]string
	}{
		"no ingress labels: the Gateway's namespace": {nil, map[string]string{specs.NamespaceNameLabel: "edge"}},
		"the platform's own labels are kept":         {map[string]string{"ingress": "true"}, map[string]string{"ingress": "true"}},
	} {
		t.Run(name, func(t *testing.T) {
			o := specs.Options{OperatorNamespace: "scrutin-system", IngressNamespaceLabels: tc.labels,
				Route: specs.RouteOptions{Gateway: specs.GatewayRef{Namespace: "edge", Name: "voters"}}}
			o.AdmitGatewayNamespace()
			e := &scrutinv1.Election{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "board", UID: "u1"}}
			var voters, ops []map[string]string
			for _, np := range specs.NetworkPolicies(&specs.Inputs{Election: e, Namespace: "scrutin-board-x", Options: o}) {
				for _, rule := range np.Spec.Ingress {
					for _, p := range rule.Ports {
						for _, from := range rule.From {
							if from.NamespaceSelector == nil {
								continue
							}
							if p.Port.IntValue() == specs.RuntimePort {
								voters = append(voters, from.NamespaceSelector.MatchLabels)
							} else if p.Port.IntValue() == specs.OpsPort {
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
