package specs

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// RuntimePort is the runtime's voters' port (pages, API, /healthz), the only one
// the voters' Service exposes; OpsPort its operations port (the control API,
// /readyz, /metrics), reached by the controller through the ops Service and by
// Prometheus on the pods, never through the voters' Service or the ingress.
const (
	RuntimePort = 8080
	OpsPort     = 9090
)

// VoterServicePort is the voters' Service's port, the routes' only backend.
const VoterServicePort = 80

// OpsServiceName is the Service of the runtime's operations port.
const OpsServiceName = RuntimeName + "-ops"

// Service is the runtime's stable in-cluster address for voters: the
// ingress's backend. It has no operations port.
func Service(in *Inputs) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(in, RuntimeName),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: runtimeSelector(),
			Ports: []corev1.ServicePort{{
				Name: "http", Port: VoterServicePort, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromString("http"),
			}},
		},
	}
}

// OpsService is the controller's address of the runtime's operations port
// (control API), apart from the voters' Service so that an ingress pointed at
// that one can never reach it.
func OpsService(in *Inputs) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(in, OpsServiceName),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: runtimeSelector(),
			Ports: []corev1.ServicePort{{
				Name: "ops", Port: OpsPort, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromString("ops"),
			}},
		},
	}
}
