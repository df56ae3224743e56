package specs

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// ServiceAccount is the runtime's identity. The runtime needs no Kubernetes API
// access at all: no token is mounted and no Role is bound.
func ServiceAccount(in *Inputs) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   objectMeta(in, RuntimeName),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// objectMeta names an object in the election's namespace and labels it as the
// election's.
func objectMeta(in *Inputs, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: in.Namespace, Labels: electionLabels(in.Election)}
}
