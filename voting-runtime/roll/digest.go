package roll

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// digestDomain opens the canonical form, so that it cannot be mistaken for
// any other hashed data; it changes if the form ever does.
const digestDomain = "scrutin.dev/roll/v1\x00"

// ComputeDigest returns "sha256:<hex>" of the canonical form of a roll, the
// value of Roll.Digest. Anyone holding the parsed voters can recompute it:
//
//	"scrutin.dev/roll/v1" 0x00
//	u64(hasWeight ? 1 : 0)
//	u64(number of voters)
//	for each voter, in file order:
//	    u64(len(ID)) ID  u64(len(Name)) Name  u64(len(Email)) Email
//	    u64(len(Phone)) Phone  u64(Weight)
//
// where u64 is 8 bytes big-endian and lengths count the bytes of the UTF-8
// text. Fields are taken as Parse normalises them (trimmed, E.164 phone,
// lower-cased email domain), so the digest ignores the file's layout.
func ComputeDigest(voters []Voter, hasWeight bool) string {
	h := sha256.New()
	_, _ = io.WriteString(h, digestDomain)
	var flag uint64
	if hasWeight {
		flag = 1
	}
	putUint(h, flag)
	putUint(h, uint64(len(voters)))
	for i := range voters {
		v := &voters[i]
		putString(h, v.ID)
		putString(h, v.Name)
		putString(h, v.Email)
		putString(h, v.Phone)
		putUint(h, uint64(v.Weight))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func putUint(h hash.Hash, n uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	_, _ = h.Write(b[:])
}

func putString(h hash.Hash, s string) {
	putUint(h, uint64(len(s)))
	_, _ = io.WriteString(h, s)
}
