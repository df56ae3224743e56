package pages

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"scrutin.dev/scrutin/voting-runtime/auth"
)

// draftMaxAge is how long a sealed draft can be brought back: long enough to ask
// for a code, wait for it, ask again; short enough that an old page is not.
const draftMaxAge = 2 * time.Hour

var errBadDraft = errors.New("pages: the sealed choices cannot be read, or are too old")

// sessionHashSize is the length of a session's store.Session.IDHash (HMAC-SHA-256),
// which a draft holds.
const sessionHashSize = 32

// sealer seals a voter's unsent choices (the ballot form's fields) for the voter to
// carry: AES-256-GCM with a key derived from the election's session key, so any
// replica can open what another sealed, bound to this election and to the voter
// whose session sealed it (the voter id is part of the authenticated data: no one
// else's session opens it), with the time it was sealed and the session's
// store.Session.IDHash (a keyed digest of the session id, not the id), inside the
// ciphertext: the pages accept a draft only in the session that sealed it, or,
// once that session has ended, when the same voter signs in again. The fields are
// padded to one length (size), so that a draft's length says nothing of the
// choices. Nothing is kept on the server.
type sealer struct {
	aead cipher.AEAD
	ad   []byte
	size int
}

// newSealer returns a sealer whose drafts hold size bytes of encoded fields (the
// longest ballot form of the election; a longer one is padded to a multiple of
// 1 KiB above it).
func newSealer(sessionKey []byte, election string, size int) (*sealer, error) {
	aead, err := auth.NewAEAD(sessionKey, "scrutin pages: sealed ballot drafts v3|"+election)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, ad: []byte("scrutin-draft-v3|" + election + "|voter="), size: size}, nil
}

// sealedLen is the length of a sealed draft of size bytes of fields, before base64.
func (s *sealer) sealedLen() int {
	return s.aead.NonceSize() + 8 + sessionHashSize + 4 + s.size + s.aead.Overhead()
}

// Seal returns the fields sealed for voter's session (its IDHash), URL-safe.
func (s *sealer) Seal(fields url.Values, voter string, session []byte, now time.Time) (string, error) {
	if voter == "" {
		return "", errors.New("pages: a draft is sealed for a voter")
	}
	if len(session) != sessionHashSize {
		return "", errors.New("pages: a draft is sealed for a session")
	}
	enc := fields.Encode()
	size := s.size
	if len(enc) > size {
		size += (len(enc) - size + 1023) / 1024 * 1024
	}
	plain := binary.BigEndian.AppendUint64(nil, uint64(now.Unix()))
	plain = append(plain, session...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(enc)))
	plain = append(plain, enc...)
	plain = append(plain, make([]byte, size-len(enc))...)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, append(s.ad[:len(s.ad):len(s.ad)], voter...))), nil
}

// Open returns the fields of a draft sealed for voter no longer than draftMaxAge
// ago, and the IDHash of the session that sealed it.
func (s *sealer) Open(sealed, voter string, now time.Time) (url.Values, []byte, error) {
	data, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || voter == "" || len(data) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, nil, errBadDraft
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, data[:n], data[n:], append(s.ad[:len(s.ad):len(s.ad)], voter...))
	const head = 8 + sessionHashSize + 4
	if err != nil || len(plain) < head {
		return nil, nil, errBadDraft
	}
	at := time.Unix(int64(binary.BigEndian.Uint64(plain[:8])), 0)
	if now.Sub(at) > draftMaxAge || at.Sub(now) > time.Minute {
		return nil, nil, errBadDraft
	}
	session := plain[8 : 8+sessionHashSize]
	length := binary.BigEndian.Uint32(plain[8+sessionHashSize : head])
	if uint64(length) > uint64(len(plain)-head) {
		return nil, nil, errBadDraft
	}
	fields, err := url.ParseQuery(string(plain[head : head+int(length)]))
	if err != nil {
		return nil, nil, errBadDraft
	}
	return fields, session, nil
}

// scrutineerPass is the scrutineers' cookie: when it expires and a MAC over that
// and a digest of the token, so changing the token ends every pass.
func scrutineerPass(key []byte, token string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return exp + "." + base64.RawURLEncoding.EncodeToString(passMAC(key, token, exp))
}

func passMAC(key []byte, token, exp string) []byte {
	tok := sha256.Sum256([]byte(token))
	m := hmac.New(sha256.New, key)
	m.Write([]byte("scrutineer|" + exp + "|"))
	m.Write(tok[:])
	return m.Sum(nil)
}

// validPass checks a scrutineers' cookie.
func validPass(key []byte, token, pass string, now time.Time) bool {
	exp, mac, ok := strings.Cut(pass, ".")
	if !ok || token == "" {
		return false
	}
	sec, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || !now.Before(time.Unix(sec, 0)) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	return err == nil && hmac.Equal(got, passMAC(key, token, exp))
}
