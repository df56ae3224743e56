// Package auth holds the voting-runtime's secrets handling: one-time codes, voter
// credentials and session ids are drawn from crypto/rand, shown once to their owner,
// and kept only as HMAC-SHA-256 digests keyed with the election's own hash key.
// Comparisons are constant-time. Nothing here logs or formats a secret.
package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// CodeDigits is the length of one-time codes (at least 6, per OWASP ASVS).
const CodeDigits = 6

// Hasher makes keyed digests with the election's hash key. Each kind of secret has
// its own domain, so a code's digest can never match a credential's or a session's.
type Hasher struct{ key []byte }

// NewHasher keys a Hasher; the key must be at least 32 bytes.
func NewHasher(key []byte) (Hasher, error) {
	if len(key) < 32 {
		return Hasher{}, errors.New("the hash key must be at least 32 bytes")
	}
	return Hasher{key: append([]byte(nil), key...)}, nil
}

// Domains of secrets.
const (
	DomainCode       = "code"
	DomainCredential = "credential"
	DomainSession    = "session"
	DomainScrutineer = "scrutineer"
)

// Sum is the keyed digest of a secret of a domain, bound to subject (the voter id,
// for codes and credentials: a code is only ever valid for the voter it was sent to).
func (h Hasher) Sum(domain, subject, secret string) []byte {
	m := hmac.New(sha256.New, h.key)
	for _, part := range []string{domain, subject, secret} {
		fmt.Fprintf(m, "%d:%s;", len(part), part)
	}
	return m.Sum(nil)
}

// Equal compares two digests in constant time.
func Equal(a, b []byte) bool { return hmac.Equal(a, b) }

// NewCode draws a one-time code of CodeDigits digits.
func NewCode() (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(CodeDigits), nil)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%0*d", CodeDigits, n), nil
}

var credentialEncoding = base32.NewEncoding("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").WithPadding(base32.NoPadding)

// NewCredential draws a voter credential: 130 random bits in an alphabet without
// look-alike characters (no 0/O, 1/I), grouped by five for reading off a letter:
// "K7QMA-XW3RD-...".
func NewCredential() (string, error) {
	b := make([]byte, 17) // 136 bits; 26 characters keep 130 of them
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := credentialEncoding.EncodeToString(b)[:26]
	var groups []string
	for i := 0; i < len(s); i += 5 {
		groups = append(groups, s[i:min(i+5, len(s))])
	}
	return strings.Join(groups, "-"), nil
}

// NormalizeCredential undoes what people do when typing a credential: spaces,
// dashes, lower case, and the look-alikes O/0 and I/1 (which the alphabet avoids).
func NormalizeCredential(s string) string {
	s = strings.ToUpper(s)
	s = strings.NewReplacer(" ", "", "-", "", "\t", "", "0", "O", "1", "I").Replace(s)
	var groups []string
	for i := 0; i < len(s); i += 5 {
		groups = append(groups, s[i:min(i+5, len(s))])
	}
	return strings.Join(groups, "-")
}

// NewSessionID draws a session id: 256 random bits, URL-safe.
func NewSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// MaskPhone shows enough of a phone number for its owner to recognise it:
// "+33612345678" -> "+33 6 •• •• •• 78".
func MaskPhone(e164 string) string {
	if len(e164) < 6 {
		return "••"
	}
	digits := e164[1:]
	cc := 2
	if strings.HasPrefix(digits, "1") || strings.HasPrefix(digits, "7") {
		cc = 1
	}
	rest := digits[cc:]
	var b strings.Builder
	b.WriteString("+" + digits[:cc] + " " + rest[:1])
	middle := len(rest) - 3
	for i := 0; i < middle; i += 2 {
		b.WriteString(" ••")
	}
	b.WriteString(" " + rest[len(rest)-2:])
	return b.String()
}

// MaskEmail shows the first letter of the local part and the domain:
// "camille.martin@example.org" -> "c•••@example.org".
func MaskEmail(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" {
		return "•••"
	}
	return local[:1] + "•••@" + domain
}

// DeriveKey derives a 32-byte key for one purpose from one of the election's
// keys (HKDF-SHA256, the purpose as its info): a key of no other use.
func DeriveKey(secret []byte, purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, purpose, 32)
}

// NewAEAD is AES-256-GCM under DeriveKey(secret, purpose): what seals the
// outbox's messages and the voters' ballot drafts, each with a purpose of its
// own.
func NewAEAD(secret []byte, purpose string) (cipher.AEAD, error) {
	key, err := DeriveKey(secret, purpose)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
