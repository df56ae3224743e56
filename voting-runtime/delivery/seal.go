package delivery

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"scrutin.dev/scrutin/voting-runtime/auth"
)

// sealInfo is the HKDF info string of the outbox key: the key that seals messages
// is derived from the election's hash key, and is of no other use.
const sealInfo = "scrutin outbox v1"

// sealVersion is the first byte of every sealed message.
const sealVersion = 1

// ErrUnsealable: a sealed message could not be opened: it was altered, sealed
// under another key, or for another voter, kind or channel.
var ErrUnsealable = errors.New("delivery: the sealed message cannot be opened (altered, or sealed with another key or for another voter, kind or channel)")

// Sealer encrypts the outbox's messages (AES-256-GCM, a random 96-bit nonce per
// message, the key derived by HKDF-SHA256 from the election's hash key), so that
// the store, and a dump of it, never holds a code, a credential or an address in
// clear. The additional data binds the voter id, the kind and the channel: a
// sealed message copied onto another voter's row, or into another channel, does
// not open. Its methods are safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the outbox key from the election's hash key (at least 32
// bytes, from the keys Secret).
func NewSealer(hashKey []byte) (*Sealer, error) {
	if len(hashKey) < 32 {
		return nil, fmt.Errorf("delivery: the hash key is %d bytes, the outbox key needs at least 32", len(hashKey))
	}
	aead, err := auth.NewAEAD(hashKey, sealInfo)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// sealedMessage is what is encrypted: the recipient and the text.
type sealedMessage struct {
	To      string `json:"t"`
	Subject string `json:"s,omitempty"`
	Body    string `json:"b"`
}

// additionalData binds a sealed message to its voter, kind and channel, each
// length-prefixed so that no two triples give the same bytes.
func additionalData(voterID, kind, channel string) []byte {
	var b []byte
	for _, s := range []string{voterID, kind, channel} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// Seal encrypts m (To, Subject, Body) for voterID's message of kind on channel.
func (s *Sealer) Seal(voterID, kind, channel string, m Message) ([]byte, error) {
	plain, err := json.Marshal(sealedMessage{To: m.To, Subject: m.Subject, Body: m.Body})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	sealed := s.aead.Seal(out, out[1:], plain, additionalData(voterID, kind, channel))
	clear(plain)
	return sealed, nil
}

// Open decrypts a message Seal made for the same voter, kind and channel; any
// other returns ErrUnsealable.
func (s *Sealer) Open(voterID, kind, channel string, sealed []byte) (Message, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return Message{}, ErrUnsealable
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], additionalData(voterID, kind, channel))
	if err != nil {
		return Message{}, ErrUnsealable
	}
	var m sealedMessage
	err = json.Unmarshal(plain, &m)
	clear(plain)
	if err != nil {
		return Message{}, ErrUnsealable
	}
	return Message{VoterID: voterID, To: m.To, Subject: m.Subject, Body: m.Body}, nil
}
