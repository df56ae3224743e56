package roll

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
)

// digestDomain opens the canonical form, so that it cannot be mistaken for
// any other hashed data; it changes if the form ever does. (v1 wrote the
// number of voters before them, which a roll read in parts cannot know.)
const digestDomain = "scrutin.dev/roll/v2\x00"

// ComputeDigest returns "sha256:<hex>" of the canonical form of a roll, the
// value of Roll.Digest and Summary.Digest. Anyone holding the parsed voters
// can recompute it:
//
//	"scrutin.dev/roll/v2" 0x00
//	u64(hasWeight ? 1 : 0)
//	for each voter, in roll order (part after part):
//	    u64(len(ID)) ID  u64(len(Name)) Name  u64(len(Email)) Email
//	    u64(len(Phone)) Phone  u64(Weight)
//	u64(number of voters)
//
// where u64 is 8 bytes big-endian and lengths count the bytes of the UTF-8
// text. Fields are taken as Parse normalises them (trimmed, E.164 phone,
// lower-cased email domain), so the digest ignores the file's layout, and
// how the roll is cut into parts: it is written as the voters are read.
func ComputeDigest(voters []Voter, hasWeight bool) string {
	h := sha256.New()
	_, _ = io.WriteString(h, digestDomain)
	var flag uint64
	if hasWeight {
		flag = 1
	}
	putUint(h, flag)
	for i := range voters {
		writeVoter(h, &voters[i])
	}
	putUint(h, uint64(len(voters)))
	return digestString(h)
}

func writeVoter(h hash.Hash, v *Voter) {
	putString(h, v.ID)
	putString(h, v.Name)
	putString(h, v.Email)
	putString(h, v.Phone)
	putUint(h, uint64(v.Weight))
}

func digestString(h hash.Hash) string {
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
