// Package specstest gives the tests of the builders (internal/specs) and of the
// controller one Election and one set of inputs to build from.
package specstest

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
)

// Election is a small Election of namespace ns, name and uid, opening in 2030.
func Election(ns, name, uid string) *scrutinv1.Election {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	return &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), Generation: 1},
		Spec: scrutinv1.ElectionSpec{
			Title: "Board", Organization: "Org",
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(time.Hour))},
			Questions: []scrutinv1.Question{{ID: "q", Prompt: "?", Kind: scrutinv1.SingleChoice, MinChoices: 1,
				Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}}},
			VoterRoll:      scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: "roll"}, Key: "roll.csv"},
			Authentication: scrutinv1.Authentication{Method: scrutinv1.EmailCode},
			Scaling:        scrutinv1.Scaling{MinReplicas: 1, MaxReplicas: 1, TargetCPUUtilizationPercentage: ptr.To(int32(70))},
			Store:          scrutinv1.Store{Type: scrutinv1.StoreEmbedded},
		},
	}
}

// Inputs are e's inputs as a reconcile would give them: fresh keys, a valid roll of
// one part, mail settings, and an operator's options.
func Inputs(e *scrutinv1.Election) *specs.Inputs {
	keys, err := specs.NewKeys()
	if err != nil {
		panic(err)
	}
	return &specs.Inputs{
		Election: e, Namespace: specs.NamespaceName(e), Keys: keys,
		Roll:     &specs.RollCopy{Parts: []specs.RollCopyPart{{Name: specs.RollCopyName(1), Key: specs.RollCopyKey, SHA256: "1a"}}},
		Delivery: map[string][]byte{"smtp.host": []byte("192.0.2.10")},
		Egress:   []specs.Endpoint{{CIDR: "192.0.2.10/32", Port: 587}},
		Options: specs.Options{
			RuntimeImage: "scrutin.dev/voting-runtime:abc", OperatorNamespace: "scrutin-system",
			IngressNamespaceLabels:    map[string]string{"ingress": "true"},
			PrometheusNamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"},
			PrometheusPodLabels:       map[string]string{"app.kubernetes.io/name": "prometheus"},
			DNSNamespace:              "kube-system", DNSPodLabels: map[string]string{"k8s-app": "kube-dns"},
		},
	}
}

// PodsConfigHash is the config hash on the pod template of in's Deployment: what
// rolls the voting pods when it changes.
func PodsConfigHash(t testing.TB, in *specs.Inputs) string {
	t.Helper()
	objs, err := specs.DesiredObjects(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			return d.Spec.Template.Annotations[specs.ConfigHashAnnotation]
		}
	}
	t.Fatal("no Deployment")
	return ""
}
