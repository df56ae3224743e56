package specs

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// ElectionFileKey is the runtime's settings file in the ConfigMap: the Election
// itself, as its tenant wrote it (defaults filled in, spec.runtime left out) and
// nothing else but its metadata.generation, the version of its schedule: the
// runtime re-reads the mounted file and records a schedule of a newer generation in
// its store, so that moving the schedule restarts no pod.
const ElectionFileKey = "election.yaml"

// ConfigMap holds the runtime's settings, derived only from this Election.
// spec.runtime is left out: it is the manager's business, and a runtime held back
// by it (an older release, that reads the file strictly) would not know the field.
func ConfigMap(in *Inputs) (*corev1.ConfigMap, error) {
	e := in.Election
	spec := *e.Spec.DeepCopy()
	spec.Runtime = nil
	doc := scrutinv1.Election{
		TypeMeta:   metav1.TypeMeta{APIVersion: scrutinv1.GroupVersion.String(), Kind: "Election"},
		ObjectMeta: metav1.ObjectMeta{Name: e.Name, Namespace: e.Namespace, UID: e.UID, Generation: e.Generation},
		Spec:       spec,
	}
	data, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("while encoding the election file: %w", err)
	}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: objectMeta(in, ConfigMapName),
		Data:       map[string]string{ElectionFileKey: string(data)},
	}, nil
}
