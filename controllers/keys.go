package controllers

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Keys are generated for one election alone, once, with crypto/rand, and kept in its
// namespace: they are never derived from anything shared, and never regenerated
// (a new hash key would invalidate every stored credential hash).
type Keys struct {
	// SessionKey signs voters' session cookies.
	SessionKey []byte
	// HashKey keys the HMAC that protects voter credentials and codes at rest.
	HashKey []byte
	// ControlToken authenticates the controller to the runtime's control endpoints.
	ControlToken string
	// DatabasePassword is the election's own PostgreSQL role's password.
	DatabasePassword string
	// ScrutineerToken authenticates the election's scrutineers (participation
	// export); it is handed to the tenant in a Secret of its own namespace.
	ScrutineerToken string
}

const (
	keySession     = "session-key"
	keyHash        = "hash-key"
	keyControl     = "control-token"
	keyDBPassword  = "database-password"
	keyScrutineer  = "scrutineer-token"
	keyBytesLength = 32
)

// NewKeys draws fresh keys from crypto/rand.
func NewKeys() (Keys, error) {
	var k Keys
	var err error
	if k.SessionKey, err = randomBytes(keyBytesLength); err != nil {
		return Keys{}, err
	}
	if k.HashKey, err = randomBytes(keyBytesLength); err != nil {
		return Keys{}, err
	}
	if k.ControlToken, err = randomToken(); err != nil {
		return Keys{}, err
	}
	if k.DatabasePassword, err = randomToken(); err != nil {
		return Keys{}, err
	}
	if k.ScrutineerToken, err = randomToken(); err != nil {
		return Keys{}, err
	}
	return k, nil
}

// KeysFromSecret reads keys back from the election's keys Secret.
func KeysFromSecret(s *corev1.Secret) (Keys, error) {
	k := Keys{
		SessionKey:       s.Data[keySession],
		HashKey:          s.Data[keyHash],
		ControlToken:     string(s.Data[keyControl]),
		DatabasePassword: string(s.Data[keyDBPassword]),
		ScrutineerToken:  string(s.Data[keyScrutineer]),
	}
	if len(k.SessionKey) != keyBytesLength || len(k.HashKey) != keyBytesLength || k.ControlToken == "" || k.DatabasePassword == "" || k.ScrutineerToken == "" {
		return Keys{}, fmt.Errorf("secret %s/%s does not hold complete keys", s.Namespace, s.Name)
	}
	return k, nil
}

func (k Keys) secretData() map[string][]byte {
	return map[string][]byte{
		keySession:    k.SessionKey,
		keyHash:       k.HashKey,
		keyControl:    []byte(k.ControlToken),
		keyDBPassword: []byte(k.DatabasePassword),
		keyScrutineer: []byte(k.ScrutineerToken),
	}
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("while drawing random bytes: %w", err)
	}
	return b, nil
}

// randomToken is 256 random bits, URL-safe.
func randomToken() (string, error) {
	b, err := randomBytes(keyBytesLength)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
