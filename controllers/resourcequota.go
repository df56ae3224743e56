package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// buildResourceQuota bounds the namespace to what the election's runtime needs at its
// largest scale, plus one pod for a rolling update; no load balancer, no node port.
func buildResourceQuota(in *Inputs) *corev1.ResourceQuota {
	pods := int64(in.Election.Spec.Scaling.MaxReplicas) + 1
	times := func(q resource.Quantity) resource.Quantity { return *resourceTimes(q, pods) }
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: objectMeta(in, "election-quota"),
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourcePods:                   *resource.NewQuantity(pods, resource.DecimalSI),
			corev1.ResourceRequestsCPU:            times(runtimeCPURequest),
			corev1.ResourceRequestsMemory:         times(runtimeMemoryRequest),
			corev1.ResourceLimitsCPU:              times(runtimeCPULimit),
			corev1.ResourceLimitsMemory:           times(runtimeMemoryLimit),
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
