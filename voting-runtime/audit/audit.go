// Package audit is the election's append-only, hash-chained log: each entry's hash
// covers the previous entry's hash, its sequence number, its kind and its data, so
// changing, removing or reordering any entry breaks every hash after it. The head
// hash is published (Election status.auditHead); Verify checks a log against it.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Genesis is the PrevHash of the first entry.
const Genesis = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Hash is the hash of an entry: SHA-256 over the previous hash, the sequence number
// and the length-prefixed kind and data.
func Hash(prev string, seq int64, kind string, data []byte) string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(prev))
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], uint64(seq))
	h.Write(s[:])
	field([]byte(kind))
	field(data)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Chain fills Seq, PrevHash and Hash of records appended after head (seq of the
// last entry, or 0 and Genesis for an empty log).
func Chain(headSeq int64, headHash string, records []store.AuditRecord) []store.AuditEntry {
	out := make([]store.AuditEntry, len(records))
	prev := headHash
	for i, r := range records {
		seq := headSeq + int64(i) + 1
		e := store.AuditEntry{Seq: seq, Kind: r.Kind, Data: r.Data, PrevHash: prev}
		e.Hash = Hash(prev, seq, r.Kind, r.Data)
		out[i], prev = e, e.Hash
	}
	return out
}

// Verify checks that entries form an unbroken chain from Genesis and, when head is
// not empty, that it ends at head.
func Verify(entries []store.AuditEntry, head string) error {
	prev := Genesis
	for i, e := range entries {
		if e.Seq != int64(i)+1 {
			return fmt.Errorf("entry %d has sequence number %d", i+1, e.Seq)
		}
		if e.PrevHash != prev {
			return fmt.Errorf("entry %d does not follow entry %d", e.Seq, e.Seq-1)
		}
		if want := Hash(prev, e.Seq, e.Kind, e.Data); e.Hash != want {
			return fmt.Errorf("entry %d (%s) was altered: its hash does not match its content", e.Seq, e.Kind)
		}
		prev = e.Hash
	}
	if head != "" && prev != head {
		return fmt.Errorf("the log ends at %s, not at the published head %s", prev, head)
	}
	return nil
}
