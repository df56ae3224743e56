package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// ResourceQuota bounds the namespace to what the election's runtime needs at its
// largest scale, plus one pod for a rolling update; no load balancer, no node port.
// A pod's share is the larger of this manager's runtime resources and those of the
// pod template decided for the Deployment: a template held back from an older
// release may ask for more, and its pods must still be re-created when a node goes.
func ResourceQuota(in *Inputs) *corev1.ResourceQuota {
	pods := int64(in.Election.Spec.Scaling.MaxReplicas) + 1
	decided := runtimeContainerResources(in)
	times := func(mine resource.Quantity, theirs corev1.ResourceList, name corev1.ResourceName) resource.Quantity {
		if q, ok := theirs[name]; ok && q.Cmp(mine) > 0 {
			mine = q
		}
		return *resourceTimes(mine, pods)
	}
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: objectMeta(in, "election-quota"),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourcePods:                   *resource.NewQuantity(pods, resource.DecimalSI),
			corev1.ResourceRequestsCPU:            times(runtimeCPURequest, decided.Requests, corev1.ResourceCPU),
			corev1.ResourceRequestsMemory:         times(runtimeMemoryRequest, decided.Requests, corev1.ResourceMemory),
			corev1.ResourceLimitsCPU:              times(runtimeCPULimit, decided.Limits, corev1.ResourceCPU),
			corev1.ResourceLimitsMemory:           times(runtimeMemoryLimit, decided.Limits, corev1.ResourceMemory),
			corev1.ResourcePersistentVolumeClaims: resource.MustParse("1"),
			corev1.ResourceRequestsStorage:        EmbeddedStoreSize,
			corev1.ResourceServices:               resource.MustParse("2"), // the voters' Service and the operations Service
			corev1.ResourceServicesLoadBalancers:  resource.MustParse("0"),
			corev1.ResourceServicesNodePorts:      resource.MustParse("0"),
			corev1.ResourceSecrets:                *resource.NewQuantity(10+rollParts(in.Election), resource.DecimalSI),
			corev1.ResourceConfigMaps:             resource.MustParse("5"),
		}},
	}
}

// resourceTimes is q multiplied by n.
func resourceTimes(q resource.Quantity, n int64) *resource.Quantity {
	return resource.NewMilliQuantity(q.MilliValue()*n, q.Format)
}

// rollParts is how many parts the election's roll has (and so how many Secrets
// its copy takes).
func rollParts(e *scrutinv1.Election) int64 {
	switch vr := e.Spec.VoterRoll; {
	case len(vr.Parts) > 0:
		return int64(len(vr.Parts))
	case vr.Selector != nil:
		return int64(vr.PartCount)
	}
	return 1
}

// runtimeContainerResources are the resources of the runtime's container in the pod
// template decided for this reconcile (none when it has no such container).
func runtimeContainerResources(in *Inputs) corev1.ResourceRequirements {
	if in.RuntimeTemplate == nil {
		return corev1.ResourceRequirements{}
	}
	for _, c := range in.RuntimeTemplate.Spec.Containers {
		if c.Name == RuntimeName {
			return c.Resources
		}
	}
	return corev1.ResourceRequirements{}
}
