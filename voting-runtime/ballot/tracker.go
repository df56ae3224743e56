package ballot

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
)

// NewTracker returns the tracker of a ballot, the receipt shown to the voter:
// the SHA-256 of 32 bytes from crypto/rand followed by payload (the ballot as
// Encode writes it), as 64 lower-case hexadecimal characters.
//
// The random bytes are discarded as soon as the hash is computed: they are
// neither returned nor stored. They hide the payload: anyone could otherwise
// hash every likely payload ({"mayor":["alice"]}, ...) and tell from a
// published tracker how its voter voted. With them, a tracker is
// indistinguishable from a random value; it cannot be recomputed, even by
// the Election, and all 256 bits are kept so that trackers stay unique
// across millions of ballots (see ShortTracker for display).
func NewTracker(payload []byte) (string, error) {
	return newTracker(rand.Reader, payload)
}

func newTracker(random io.Reader, payload []byte) (string, error) {
	var salt [32]byte
	if _, err := io.ReadFull(random, salt[:]); err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(salt[:])
	h.Write(payload)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ShortTracker is a tracker's short form for display, its first 12
// characters in three groups of four: "7f3a-9c21-04be". It is for a voter to
// read and compare by eye; it is not unique across a large election, so the
// full tracker is what identifies a ballot. A string shorter than 12
// characters is returned unchanged.
func ShortTracker(t string) string {
	if len(t) < 12 {
		return t
	}
	return t[0:4] + "-" + t[4:8] + "-" + t[8:12]
}
