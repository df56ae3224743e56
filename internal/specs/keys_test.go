package specs_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"scrutin.dev/scrutin/internal/specs"
)

func TestKeysAreFreshAndComplete(t *testing.T) {
	a, err := specs.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := specs.NewKeys()
	if string(a.SessionKey) == string(b.SessionKey) || string(a.HashKey) == string(b.HashKey) ||
		a.ControlToken == b.ControlToken || a.DatabasePassword == b.DatabasePassword || string(a.SessionKey) == string(a.HashKey) {
		t.Fatal("keys repeat")
	}
	back, err := specs.KeysFromSecret(&corev1.Secret{Data: a.SecretData()})
	if err != nil || string(back.HashKey) != string(a.HashKey) || back.ControlToken != a.ControlToken {
		t.Fatalf("keys do not round-trip: %v", err)
	}
	if _, err := specs.KeysFromSecret(&corev1.Secret{Data: map[string][]byte{specs.KeySession: a.SessionKey}}); err == nil {
		t.Error("incomplete keys accepted")
	}
}
