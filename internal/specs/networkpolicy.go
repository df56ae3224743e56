package specs

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

const namespaceNameLabel = "kubernetes.io/metadata.name"

// NetworkPolicies deny all traffic in and out of the election's namespace, then
// allow in: the ingress path and the operator, to the voters' port; the operator,
// Prometheus (by its own namespace and pod labels) and, with spec.archive.pvc,
// the archive Job's pods of the Election's namespace, to the operations port;
// out: the cluster DNS, and the election's own database, mail and SMS endpoints.
// The ingress path never reaches the operations port.
func NetworkPolicies(in *Inputs) []*networkingv1.NetworkPolicy {
	tcp, udp := ptr.To(corev1.ProtocolTCP), ptr.To(corev1.ProtocolUDP)
	runtimePods := metav1.LabelSelector{MatchLabels: runtimeSelector()}

	operator := networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: in.Options.OperatorNamespace}},
	}
	from := []networkingv1.NetworkPolicyPeer{operator}
	if len(in.Options.IngressNamespaceLabels) > 0 {
		from = append(from, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: in.Options.IngressNamespaceLabels},
		})
	}
	opsFrom := []networkingv1.NetworkPolicyPeer{operator}
	if len(in.Options.PrometheusNamespaceLabels) > 0 {
		prometheus := networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: in.Options.PrometheusNamespaceLabels},
		}
		if len(in.Options.PrometheusPodLabels) > 0 {
			prometheus.PodSelector = &metav1.LabelSelector{MatchLabels: in.Options.PrometheusPodLabels}
		}
		opsFrom = append(opsFrom, prometheus)
	}
	if e := in.Election; e.Spec.Archive != nil && e.Spec.Archive.PVC != nil {
		// the archive Job's pods, in the Election's namespace alone; the records
		// still need the scrutineers' token, every other control call the control token
		opsFrom = append(opsFrom, networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: e.Namespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: archiveCopySelector(e)},
		})
	}
	egress := []networkingv1.NetworkPolicyEgressRule{{
		To: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{namespaceNameLabel: in.Options.DNSNamespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: in.Options.DNSPodLabels},
		}},
		Ports: []networkingv1.NetworkPolicyPort{
			{Protocol: udp, Port: ptr.To(intstr.FromInt32(53))},
			{Protocol: tcp, Port: ptr.To(intstr.FromInt32(53))},
		},
	}}
	for _, ep := range in.Egress {
		egress = append(egress, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: ep.CIDR}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(ep.Port))}},
		})
	}
	policy := func(name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: objectMeta(in, name),
			Spec:       spec,
		}
	}
	return []*networkingv1.NetworkPolicy{
		policy("default-deny", networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		}),
		policy("allow-ingress", networkingv1.NetworkPolicySpec{
			PodSelector: runtimePods,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  from,
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(RuntimePort))}},
			}},
		}),
		policy("allow-ops", networkingv1.NetworkPolicySpec{
			PodSelector: runtimePods,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  opsFrom,
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: tcp, Port: ptr.To(intstr.FromInt32(OpsPort))}},
			}},
		}),
		policy("allow-egress", networkingv1.NetworkPolicySpec{
			PodSelector: runtimePods,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      egress,
		}),
	}
}
