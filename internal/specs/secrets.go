package specs

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
)

// Secrets are the election's own Secrets: its keys; its mail and SMS
// settings; its database connection. Nothing in them is shared with any other
// election. The copy of the roll, part by part, is written by loadRoll, reading
// one part at a time.
func Secrets(in *Inputs) []*corev1.Secret {
	secrets := []*corev1.Secret{
		SecretOf(in, KeysSecretName, in.Keys.SecretData()),
	}
	// Keys never change once generated.
	secrets[0].Immutable = ptr.To(true)
	if len(in.Delivery) > 0 {
		secrets = append(secrets, SecretOf(in, DeliverySecretName, in.Delivery))
	}
	if in.Database != nil {
		secrets = append(secrets, SecretOf(in, DatabaseSecretName, map[string][]byte{contract.KeyDSN: []byte(in.Database.DSN)}))
	}
	return secrets
}

func SecretOf(in *Inputs, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(in, name),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// ScrutineerSecretName is the Secret, in the tenant's namespace, that hands the
// election's scrutineers their token and the runtime's address.
func ScrutineerSecretName(e *scrutinv1.Election) string { return e.Name + "-scrutineer" }

// ScrutineerSecret is the tenant's copy of the scrutineers' token, owned by the
// Election (same namespace), so it goes when the Election goes.
func ScrutineerSecret(in *Inputs, voterURL string) *corev1.Secret {
	e := in.Election
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ScrutineerSecretName(e), Namespace: e.Namespace, Labels: electionLabels(e),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: scrutinv1.GroupVersion.String(), Kind: "Election", Name: e.Name, UID: e.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"token": []byte(in.Keys.ScrutineerToken),
			"url":   []byte(voterURL + "api/v1/scrutineer/participation.csv"),
		},
	}
}
