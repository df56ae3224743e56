package specs

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"

	corev1 "k8s.io/api/core/v1"

	"scrutin.dev/scrutin/internal/contract"
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
	// decimal. It is kept in a Secret of its own (TrusteeKeySecretName), made
	// once, when the election first needs it (verifiable, the platform among its
	// trustees), and projected into the runtime's keys directory beside the other
	// keys. Empty for the other elections.
	TrusteeKey string
}

const (
	keySession    = contract.KeySessionKey
	keyHash       = contract.KeyHashKey
	keyControl    = contract.KeyControlToken
	keyDBPassword = "database-password"
	keyScrutineer = contract.KeyScrutineerToken
	// KeyTrustee is the key of the platform trustee's private key in its
	// Secret, and its file in the runtime's keys directory.
	KeyTrustee     = contract.KeyTrusteeKey
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

func (k Keys) SecretData() map[string][]byte {
	return map[string][]byte{
		keySession:    k.SessionKey,
		keyHash:       k.HashKey,
		keyControl:    []byte(k.ControlToken),
		keyDBPassword: []byte(k.DatabasePassword),
		keyScrutineer: []byte(k.ScrutineerToken),
	}
}

// NewTrusteeKey draws the platform trustee's private key: uniform in [1, q) of
// BELENIOS-2048, in decimal (zero, drawn with probability 2^-255, would make the
// public key 1 and is drawn again).
func NewTrusteeKey() (string, error) {
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

// CheckTrusteeKey: a decimal integer in [1, q), written canonically.
func CheckTrusteeKey(s string) error {
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
