package specs_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/internal/specs/specstest"
)

func TestResourceQuotaFollowsMaxReplicas(t *testing.T) {
	e := specstest.Election("t", "v", "u")
	e.Spec.Scaling.MaxReplicas = 9
	q := specs.ResourceQuota(specstest.Inputs(e))
	if got := q.Spec.Hard.Pods().Value(); got != 10 {
		t.Errorf("pods %d, want maxReplicas+1 = 10", got)
	}
	if got := q.Spec.Hard.Name(corev1.ResourceLimitsMemory, ""); got.Cmp(*specs.ResourceTimes(specs.RuntimeMemoryLimit, 10)) != 0 {
		t.Errorf("limits.memory %s", got.String())
	}
	if lb := q.Spec.Hard[corev1.ResourceServicesLoadBalancers]; !lb.IsZero() {
		t.Error("no load balancer may be created in an election namespace")
	}
}
