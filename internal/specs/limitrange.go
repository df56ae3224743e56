package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LimitRange gives any container in the namespace the runtime's requests and
// limits by default, and caps what one container can ask for.
func LimitRange(in *Inputs) *corev1.LimitRange {
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: objectMeta(in, "election-limits"),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: runtimeCPURequest, corev1.ResourceMemory: runtimeMemoryRequest},
			Default:        corev1.ResourceList{corev1.ResourceCPU: runtimeCPULimit, corev1.ResourceMemory: runtimeMemoryLimit},
			Max:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		}}},
	}
}
