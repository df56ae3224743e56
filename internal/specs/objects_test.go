package specs_test

import (
	"testing"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestDesiredObjectsAreTheElections(t *testing.T) {
	e := specstest.Election("tenant", "vote", "uid-1")
	in := specstest.Inputs(e)
	objs, err := specs.DesiredObjects(in)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetObjectKind().GroupVersionKind().Kind]++
		if o.GetNamespace() != in.Namespace {
			t.Errorf("%T %s is in namespace %q, want %q", o, o.GetName(), o.GetNamespace(), in.Namespace)
		}
		if o.GetLabels()[scrutinv1.LabelElectionUID] != "uid-1" || o.GetLabels()[specs.LabelManagedBy] != scrutinv1.ManagedByController {
			t.Errorf("%T %s is not labelled as the election's: %v", o, o.GetName(), o.GetLabels())
		}
	}
	// Secrets: the keys and the delivery settings; the roll's copy, part by part,
	// is written by loadRoll. ConfigMaps: the runtime's settings and the record of
	// its pod template.
	want := map[string]int{
		"ServiceAccount": 1, "NetworkPolicy": 4, "ResourceQuota": 1, "LimitRange": 1, "Secret": 2,
		"ConfigMap": 2, "PersistentVolumeClaim": 1, "Service": 2, "Deployment": 1,
		"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s, want %d", kinds[k], k, n)
		}
	}
	ns := specs.Namespace(in)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" || ns.Labels[scrutinv1.LabelElectionUID] != "uid-1" {
		t.Errorf("namespace labels: %v", ns.Labels)
	}
}
