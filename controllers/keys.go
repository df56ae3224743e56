package controllers

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"

	corev1 "k8s.io/api/core/v1"

	"scrutin.dev/scrutin/voting-runtime/belenios"
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
	// TrusteeKey is the platform trustee's private key for the verifiable mode
	// (Belenios): a uniform non-zero scalar below the order of BELENIOS-2048, in
	// decimal. It is generated with the other keys for every election, whatever
	// its mode (an election may turn verifiable before it opens, and the keys
	// Secret never changes); only a verifiable election whose trustees include the
	// platform uses it. Empty in the keys of elections made before the verifiable
	// mode existed.
	TrusteeKey string
}

const (
	keySession    = "session-key"
	keyHash       = "hash-key"
	keyControl    = "control-token"
	keyDBPassword = "database-password"
	keyScrutineer = "scrutineer-token"
	// KeyTrustee is the file, in the runtime's keys directory, of the platform
	// trustee's private key.
	KeyTrustee     = "belenios-trustee-key"
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
	if k.TrusteeKey, err = newTrusteeKey(); err != nil {
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
		TrusteeKey:       string(s.Data[KeyTrustee]),
	}
	if len(k.SessionKey) != keyBytesLength || len(k.HashKey) != keyBytesLength || k.ControlToken == "" || k.DatabasePassword == "" || k.ScrutineerToken == "" {
		return Keys{}, fmt.Errorf("secret %s/%s does not hold complete keys", s.Namespace, s.Name)
	}
	// absent from the keys of elections made before the verifiable mode; when
	// present, it must be a scalar of the group
	if k.TrusteeKey != "" {
		if err := checkTrusteeKey(k.TrusteeKey); err != nil {
			return Keys{}, fmt.Errorf("secret %s/%s: key %s: %w", s.Namespace, s.Name, KeyTrustee, err)
		}
	}
	return k, nil
}

func (k Keys) secretData() map[string][]byte {
	d := map[string][]byte{
		keySession:    k.SessionKey,
		keyHash:       k.HashKey,
		keyControl:    []byte(k.ControlToken),
		keyDBPassword: []byte(k.DatabasePassword),
		keyScrutineer: []byte(k.ScrutineerToken),
	}
	if k.TrusteeKey != "" {
		d[KeyTrustee] = []byte(k.TrusteeKey)
	}
	return d
}

// newTrusteeKey draws the platform trustee's private key: uniform in [1, q) of
// BELENIOS-2048, in decimal (zero, drawn with probability 2^-255, would make the
// public key 1 and is drawn again).
func newTrusteeKey() (string, error) {
	g := belenios.Belenios2048()
	for {
		x, err := g.RandomScalar()
		if err != nil {
			return "", fmt.Errorf("while drawing the platform trustee's key: %w", err)
		}
		if x.Sign() > 0 {
			return x.String(), nil
		}
	}
}

// checkTrusteeKey: a decimal integer in [1, q), written canonically.
func checkTrusteeKey(s string) error {
	x, ok := new(big.Int).SetString(s, 10)
	if !ok || x.String() != s {
		return fmt.Errorf("not a decimal integer")
	}
	if x.Sign() <= 0 || !belenios.Belenios2048().IsScalar(x) {
		return fmt.Errorf("not a scalar of %s in [1, q)", belenios.Belenios2048().Name)
	}
	return nil
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
