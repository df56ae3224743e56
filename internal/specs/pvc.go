package specs

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// EmbeddedStoreSize is the volume of the Embedded store.
var EmbeddedStoreSize = resource.MustParse("1Gi")

// PVC is the Embedded store's volume; nil for PostgreSQL. It is never pruned:
// it holds the ballots.
func PVC(in *Inputs) *corev1.PersistentVolumeClaim {
	if in.Election.Spec.Store.Type != scrutinv1.StoreEmbedded {
		return nil
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: objectMeta(in, DataVolumeName),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: EmbeddedStoreSize}},
		},
	}
}
