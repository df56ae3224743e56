package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// buildSecrets are the election's own Secrets: its keys; the validated roll; its
// mail and SMS settings; its database connection. Nothing in them is shared with any
// other election.
func buildSecrets(in *Inputs) []*corev1.Secret {
	secrets := []*corev1.Secret{
		secret(in, KeysSecretName, in.Keys.secretData()),
	}
	// Keys never change once generated.
	secrets[0].Immutable = ptr.To(true)
	if in.Roll != nil {
		secrets = append(secrets, secret(in, RollSecretName, map[string][]byte{"roll.csv": in.Roll}))
	}
	if len(in.Delivery) > 0 {
		secrets = append(secrets, secret(in, DeliverySecretName, in.Delivery))
	}
	if in.Database != nil {
		secrets = append(secrets, secret(in, DatabaseSecretName, map[string][]byte{"dsn": []byte(in.Database.DSN)}))
	}
	return secrets
}

func secret(in *Inputs, name string, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(in, name),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}
