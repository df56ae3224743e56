package specs_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestNetworkPolicies(t *testing.T) {
	in := specstest.Inputs(specstest.Election("t", "v", "u"))
	nps := specs.NetworkPolicies(in)
	byName := map[string]*networkingv1.NetworkPolicy{}
	for _, np := range nps {
		byName[np.Name] = np
	}
	deny := byName["default-deny"]
	if deny == nil || len(deny.Spec.PodSelector.MatchLabels) != 0 || len(deny.Spec.PolicyTypes) != 2 || deny.Spec.Ingress != nil || deny.Spec.Egress != nil {
		t.Fatalf("default-deny must select every pod and deny both directions: %+v", deny)
	}
	ingress := byName["allow-ingress"].Spec.Ingress
	if len(ingress) != 1 || len(ingress[0].From) != 2 || len(ingress[0].Ports) != 1 || ingress[0].Ports[0].Port.IntValue() != specs.RuntimePort {
		t.Errorf("ingress rule: %+v", ingress)
	}
	egress := byName["allow-egress"].Spec.Egress
	if len(egress) != 2 {
		t.Fatalf("want DNS and one endpoint, got %d rules", len(egress))
	}
	if ip := egress[1].To[0].IPBlock; ip == nil || ip.CIDR != "192.0.2.10/32" || egress[1].Ports[0].Port.IntValue() != 587 {
		t.Errorf("endpoint rule: %+v", egress[1])
	}
}

// TestOpsPortNotExposedToVoters: the control API, readiness and metrics are on
// the operations port, which the voters' Service (the ingress's backend) does not
// expose, and which the NetworkPolicies admit only from the operator's namespace
// and the Prometheus pods (by their own namespace and pod labels), never from the
// ingress path.
func TestOpsPortNotExposedToVoters(t *testing.T) {
	in := specstest.Inputs(specstest.Election("t", "v", "u"))
	voters, ops := specs.Service(in), specs.OpsService(in)
	if len(voters.Spec.Ports) != 1 || voters.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("the voters' Service exposes %+v; want the voters' port alone", voters.Spec.Ports)
	}
	for _, p := range voters.Spec.Ports {
		if p.Port == specs.OpsPort || p.TargetPort.String() == "ops" || p.TargetPort.IntValue() == specs.OpsPort {
			t.Errorf("the voters' Service exposes the operations port: %+v", p)
		}
	}
	if ops.Name == voters.Name || len(ops.Spec.Ports) != 1 || ops.Spec.Ports[0].TargetPort.String() != "ops" || ops.Spec.Ports[0].Port != specs.OpsPort {
		t.Errorf("ops Service %s: %+v", ops.Name, ops.Spec.Ports)
	}

	// the election's own quota holds both Services
	objs, err := specs.DesiredObjects(in)
	if err != nil {
		t.Fatal(err)
	}
	var services int64
	for _, o := range objs {
		if _, ok := o.(*corev1.Service); ok {
			services++
		}
	}
	if q := specs.ResourceQuota(in).Spec.Hard[corev1.ResourceServices]; q.Value() != services {
		t.Errorf("the namespace's quota allows %d Services; the election has %d", q.Value(), services)
	}

	// every rule admitting the operations port, and who it admits
	var opsPeers []networkingv1.NetworkPolicyPeer
	for _, np := range specs.NetworkPolicies(in) {
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port == nil || p.Port.IntValue() == specs.OpsPort || p.Port.String() == "ops" {
					if len(rule.From) == 0 {
						t.Fatalf("%s admits the operations port from anywhere: %+v", np.Name, rule)
					}
					opsPeers = append(opsPeers, rule.From...)
				}
			}
		}
	}
	operator := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{specs.NamespaceNameLabel: "scrutin-system"}}}
	prometheus := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: in.Options.PrometheusNamespaceLabels},
		PodSelector:       &metav1.LabelSelector{MatchLabels: in.Options.PrometheusPodLabels},
	}
	if len(opsPeers) != 2 || !equality.Semantic.DeepEqual(opsPeers[0], operator) || !equality.Semantic.DeepEqual(opsPeers[1], prometheus) {
		t.Errorf("the operations port is admitted from %+v; want the operator's namespace and the Prometheus pods alone", opsPeers)
	}

	// without Prometheus labels, the operator alone
	in.Options.PrometheusNamespaceLabels, in.Options.PrometheusPodLabels = nil, nil
	for _, np := range specs.NetworkPolicies(in) {
		if np.Name == "allow-ops" && (len(np.Spec.Ingress) != 1 || !equality.Semantic.DeepEqual(np.Spec.Ingress[0].From, []networkingv1.NetworkPolicyPeer{operator})) {
			t.Errorf("allow-ops without Prometheus: %+v", np.Spec.Ingress)
		}
	}
}
