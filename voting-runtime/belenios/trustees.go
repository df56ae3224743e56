package belenios

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
)

// Trustees is the election's trustees list, the "trustees" record of the board:
// in JSON [["Single",{…}],["Pedersen",{…}],…]. Each Single entry is one trustee
// holding one key; a Pedersen entry is a group of n trustees any Threshold of
// whom can decrypt. The election's public key is the product of the entries'
// keys. Owners (the "owner" of partial decryptions) are numbered from 1 over the
// flattened list: a Single counts one, a Pedersen entry one per member.
type Trustees []TrusteeEntry

// TrusteeEntry is one entry of the list: exactly one of Single and Pedersen is set.
type TrusteeEntry struct {
	Single   *TrusteePublicKey
	Pedersen *ThresholdParameters
}

// Trustee kinds, the tags of the entries.
const (
	TrusteeSingle   = "Single"
	TrusteePedersen = "Pedersen"
)

// SignedMsg is a message signed with a Schnorr signature by a Pedersen
// trustee's signing key (Belenios's signed_msg): the message is itself JSON,
// kept as the exact string that was signed.
type SignedMsg struct {
	Message   string `json:"message"`
	Signature Proof  `json:"signature"`
}

// ThresholdParameters is a Pedersen entry (Belenios's threshold_parameters):
// the n members' certificates, the signed commitments to their polynomials'
// coefficients (g^a_ik, k < Threshold) and their verification keys g^x_j,
// x_j being member j's share of the decryption key. Threshold members are
// needed to decrypt.
type ThresholdParameters struct {
	Threshold        int                `json:"threshold"`
	Certs            []SignedMsg        `json:"certs"`
	Coefexps         []SignedMsg        `json:"coefexps"`
	VerificationKeys []TrusteePublicKey `json:"verification_keys"`
}

// CertKeys is the message of a Pedersen certificate: the member's signing
// (verification) key and the key the other members encrypt its shares to.
type CertKeys struct {
	Verification *Int `json:"verification"`
	Encryption   *Int `json:"encryption"`
}

// RawCoefexps is the message of a member's signed coefficient commitments.
type RawCoefexps struct {
	Coefexps []*Int `json:"coefexps"`
}

// MarshalJSON writes the entry as ["Single",{…}] or ["Pedersen",{…}].
func (e TrusteeEntry) MarshalJSON() ([]byte, error) {
	switch {
	case e.Single != nil && e.Pedersen == nil:
		return Marshal([]any{TrusteeSingle, e.Single})
	case e.Pedersen != nil && e.Single == nil:
		return Marshal([]any{TrusteePedersen, e.Pedersen})
	}
	return nil, errors.New("belenios: a trustee entry must be either Single or Pedersen")
}

// UnmarshalJSON reads ["Single",{…}] or ["Pedersen",{…}], refusing unknown
// kinds and unknown fields.
func (e *TrusteeEntry) UnmarshalJSON(data []byte) error {
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return fmt.Errorf("belenios: a trustee entry must be [kind, value]: %w", err)
	}
	if len(parts) != 2 {
		return errors.New("belenios: a trustee entry must be [kind, value]")
	}
	var kind string
	if err := json.Unmarshal(parts[0], &kind); err != nil {
		return fmt.Errorf("belenios: a trustee entry's kind must be a string: %w", err)
	}
	*e = TrusteeEntry{}
	switch kind {
	case TrusteeSingle:
		var k TrusteePublicKey
		if err := UnmarshalStrict(parts[1], &k); err != nil {
			return fmt.Errorf("belenios: Single trustee: %w", err)
		}
		e.Single = &k
	case TrusteePedersen:
		var p ThresholdParameters
		if err := UnmarshalStrict(parts[1], &p); err != nil {
			return fmt.Errorf("belenios: Pedersen trustees: %w", err)
		}
		e.Pedersen = &p
	default:
		return fmt.Errorf("belenios: unknown trustee kind %q", kind)
	}
	return nil
}

// ParseTrustees reads a trustees list (as belenios-tool's make-trustees writes
// it, or Marshal; surrounding white space is allowed). It checks the shape, not
// the proofs: call Verify.
func ParseTrustees(raw []byte) (Trustees, error) {
	var t Trustees
	if err := UnmarshalStrict(bytes.TrimSpace(raw), &t); err != nil {
		return nil, err
	}
	if len(t) == 0 {
		return nil, errors.New("belenios: the trustees list is empty")
	}
	return t, nil
}

// ParseTrusteeEntry reads one entry, ["Single",{…}] or ["Pedersen",{…}]
// (what the key ceremony outputs).
func ParseTrusteeEntry(raw []byte) (TrusteeEntry, error) {
	var e TrusteeEntry
	if err := UnmarshalStrict(bytes.TrimSpace(raw), &e); err != nil {
		return TrusteeEntry{}, err
	}
	return e, nil
}

// Marshal is the list's canonical bytes, as belenios-tool writes them (without
// the trailing newline its file has): the trustees record of the board.
func (t Trustees) Marshal() ([]byte, error) {
	if len(t) == 0 {
		return nil, errors.New("belenios: the trustees list is empty")
	}
	return Marshal([]TrusteeEntry(t))
}

// Verify checks every entry as belenios-tool's verifier does: each Single key
// is a group element with a valid proof of knowledge; for a Pedersen entry, the
// certificates and the coefficient commitments are signed by their members,
// every verification key has a valid proof of knowledge and equals the value
// the commitments give, and Threshold is the polynomials' number of
// coefficients (1 <= Threshold <= n).
func (t Trustees) Verify(g *Group) error {
	if len(t) == 0 {
		return errors.New("belenios: the trustees list is empty")
	}
	owner := 0
	for i, e := range t {
		switch {
		case e.Single != nil && e.Pedersen == nil:
			owner++
			if err := VerifyTrusteeKey(g, *e.Single); err != nil {
				return fmt.Errorf("trustee %d: %w", owner, err)
			}
		case e.Pedersen != nil && e.Single == nil:
			if err := e.Pedersen.Verify(g); err != nil {
				return fmt.Errorf("trustees entry %d (Pedersen, owners %d to %d): %w",
					i+1, owner+1, owner+len(e.Pedersen.VerificationKeys), err)
			}
			owner += len(e.Pedersen.VerificationKeys)
		default:
			return fmt.Errorf("trustees entry %d: neither Single nor Pedersen", i+1)
		}
	}
	return nil
}

// PublicKey is the election's public key: the product of the Single keys and
// of each Pedersen entry's key (the product of its members' g^a_i0). It is nil
// when an entry cannot be read (Verify says why).
func (t Trustees) PublicKey(g *Group) *big.Int {
	y := big.NewInt(1)
	for _, e := range t {
		var k *big.Int
		switch {
		case e.Single != nil:
			k = e.Single.PublicKey.Big()
		case e.Pedersen != nil:
			k = e.Pedersen.PublicKey(g)
		}
		if k == nil {
			return nil
		}
		y.Mul(y, k).Mod(y, g.P)
	}
	return y
}

// Owners is the number of owners: one per Single entry, one per member of
// each Pedersen entry.
func (t Trustees) Owners() int {
	n := 0
	for _, e := range t {
		switch {
		case e.Single != nil:
			n++
		case e.Pedersen != nil:
			n += len(e.Pedersen.VerificationKeys)
		}
	}
	return n
}

// VerificationKey is the key a partial decryption by owner (1-based) is
// checked against: the Single trustee's key, or the Pedersen member's
// verification key g^x_j.
func (t Trustees) VerificationKey(owner int) (*big.Int, error) {
	if owner >= 1 {
		base := 0
		for _, e := range t {
			switch {
			case e.Single != nil:
				if owner == base+1 {
					return e.Single.PublicKey.Big(), nil
				}
				base++
			case e.Pedersen != nil:
				n := len(e.Pedersen.VerificationKeys)
				if owner <= base+n {
					return e.Pedersen.VerificationKeys[owner-base-1].PublicKey.Big(), nil
				}
				base += n
			}
		}
	}
	return nil, fmt.Errorf("belenios: no trustee %d (there are %d)", owner, t.Owners())
}

// OwnerOf is the owner (1-based) whose verification key is X, or 0: a trustee
// holding the private key x finds its owner number with OwnerOf(g^x).
func (t Trustees) OwnerOf(X *big.Int) int {
	for owner := 1; owner <= t.Owners(); owner++ {
		if k, err := t.VerificationKey(owner); err == nil && k != nil && k.Cmp(X) == 0 {
			return owner
		}
	}
	return 0
}

// Ready says whether the owners in have are enough to decrypt: every Single
// trustee, and at least Threshold members of each Pedersen entry.
func (t Trustees) Ready(have []int) bool {
	got := make(map[int]bool, len(have))
	for _, o := range have {
		got[o] = true
	}
	base := 0
	for _, e := range t {
		switch {
		case e.Single != nil:
			base++
			if !got[base] {
				return false
			}
		case e.Pedersen != nil:
			n := len(e.Pedersen.VerificationKeys)
			present := 0
			for j := 1; j <= n; j++ {
				if got[base+j] {
					present++
				}
			}
			if e.Pedersen.Threshold < 1 || present < e.Pedersen.Threshold {
				return false
			}
			base += n
		default:
			return false
		}
	}
	return len(t) > 0
}

// Combine is, per question and per slot, the combined decryption factor
// alpha^x of the election's key: the product over the entries of each Single
// trustee's factor and of each Pedersen entry's Lagrange interpolation of its
// members' factors (the first Threshold members present, in member order, as
// belenios-tool does). pds is keyed by owner; partial decryptions must have
// been checked against their owners' verification keys (this does not check
// proofs). Factors are checked to be group elements and of one shape.
func (t Trustees) Combine(g *Group, pds map[int]*PartialDecryption) ([][]*big.Int, error) {
	if !t.Ready(owners(pds)) {
		return nil, errors.New("belenios: not enough partial decryptions to decrypt")
	}
	var acc [][]*big.Int
	mul := func(owner int, e *big.Int) error {
		pd := pds[owner]
		if pd == nil {
			return fmt.Errorf("belenios: the partial decryption of trustee %d is missing", owner)
		}
		f := pd.DecryptionFactors
		if acc == nil {
			acc = make([][]*big.Int, len(f))
			for q := range f {
				acc[q] = make([]*big.Int, len(f[q]))
				for s := range f[q] {
					acc[q][s] = big.NewInt(1)
				}
			}
		}
		if len(f) != len(acc) {
			return fmt.Errorf("belenios: the partial decryption of trustee %d has %d questions, not %d", owner, len(f), len(acc))
		}
		for q := range f {
			if len(f[q]) != len(acc[q]) {
				return fmt.Errorf("belenios: the partial decryption of trustee %d has %d slots in question %d, not %d",
					owner, len(f[q]), q+1, len(acc[q]))
			}
			for s, x := range f[q] {
				if x == nil || !g.IsElement(x.Big()) {
					return fmt.Errorf("belenios: a decryption factor of trustee %d is not in the group", owner)
				}
				v := x.Big()
				if e != nil {
					v = new(big.Int).Exp(v, e, g.P)
				}
				acc[q][s].Mul(acc[q][s], v).Mod(acc[q][s], g.P)
			}
		}
		return nil
	}
	base := 0
	for _, e := range t {
		switch {
		case e.Single != nil:
			base++
			if err := mul(base, nil); err != nil {
				return nil, err
			}
		case e.Pedersen != nil:
			n := len(e.Pedersen.VerificationKeys)
			var members []int
			for j := 1; j <= n && len(members) < e.Pedersen.Threshold; j++ {
				if pds[base+j] != nil {
					members = append(members, j)
				}
			}
			for _, j := range members {
				if err := mul(base+j, Lagrange(g, members, j)); err != nil {
					return nil, err
				}
			}
			base += n
		}
	}
	return acc, nil
}

// Lagrange is the Lagrange coefficient at 0 of member j over the members
// indexes (1-based, distinct): the product over k != j of k/(k-j) mod Q.
func Lagrange(g *Group, indexes []int, j int) *big.Int {
	l := big.NewInt(1)
	for _, k := range indexes {
		if k == j {
			continue
		}
		d := new(big.Int).Mod(big.NewInt(int64(k-j)), g.Q)
		d.ModInverse(d, g.Q)
		l.Mul(l, big.NewInt(int64(k))).Mul(l, d).Mod(l, g.Q)
	}
	return l
}

func owners(pds map[int]*PartialDecryption) []int {
	have := make([]int, 0, len(pds))
	for o, pd := range pds {
		if pd != nil {
			have = append(have, o)
		}
	}
	sort.Ints(have)
	return have
}

// Verify checks a Pedersen entry as belenios-tool does (see Trustees.Verify).
func (p *ThresholdParameters) Verify(g *Group) error {
	n := len(p.Certs)
	if n == 0 {
		return errors.New("no member")
	}
	if len(p.Coefexps) != n || len(p.VerificationKeys) != n {
		return fmt.Errorf("%d certificates, %d coefficient commitments and %d verification keys: they must match",
			n, len(p.Coefexps), len(p.VerificationKeys))
	}
	if p.Threshold < 1 || p.Threshold > n {
		return fmt.Errorf("threshold %d is not between 1 and %d", p.Threshold, n)
	}
	certs, err := p.CertKeys(g)
	if err != nil {
		return err
	}
	coefs, err := p.coefficients(g, certs)
	if err != nil {
		return err
	}
	vks := VerificationKeys(g, coefs)
	for j, vk := range p.VerificationKeys {
		if err := VerifyTrusteeKey(g, vk); err != nil {
			return fmt.Errorf("member %d's verification key: %w", j+1, err)
		}
		if vk.PublicKey.Big().Cmp(vks[j]) != 0 {
			return fmt.Errorf("member %d's verification key is not the one the commitments give", j+1)
		}
	}
	return nil
}

// PublicKey is the entry's share of the election key, the product of its
// members' g^a_i0; nil when a commitment cannot be read.
func (p *ThresholdParameters) PublicKey(g *Group) *big.Int {
	y := big.NewInt(1)
	for _, m := range p.Coefexps {
		var c RawCoefexps
		if err := UnmarshalStrict([]byte(m.Message), &c); err != nil || len(c.Coefexps) == 0 || c.Coefexps[0] == nil {
			return nil
		}
		y.Mul(y, c.Coefexps[0].Big()).Mod(y, g.P)
	}
	return y
}

// CertKeys reads and checks the members' certificates: each is signed by its
// own verification key, and both keys are group elements.
func (p *ThresholdParameters) CertKeys(g *Group) ([]CertKeys, error) {
	out := make([]CertKeys, len(p.Certs))
	for i, c := range p.Certs {
		k, err := readCert(g, c)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		out[i] = k
	}
	return out, nil
}

// coefficients reads each member's commitments, checking that they are signed
// by that member's certificate and that there are Threshold of them.
func (p *ThresholdParameters) coefficients(g *Group, certs []CertKeys) ([][]*big.Int, error) {
	out := make([][]*big.Int, len(p.Coefexps))
	for i, m := range p.Coefexps {
		c, err := readCoefexps(g, certs[i].Verification.Big(), m)
		if err != nil {
			return nil, fmt.Errorf("member %d's commitments: %w", i+1, err)
		}
		if len(c) != p.Threshold {
			return nil, fmt.Errorf("member %d commits to %d coefficients, not the threshold %d", i+1, len(c), p.Threshold)
		}
		out[i] = c
	}
	return out, nil
}

func readCert(g *Group, m SignedMsg) (CertKeys, error) {
	var k CertKeys
	if err := UnmarshalStrict([]byte(m.Message), &k); err != nil {
		return CertKeys{}, err
	}
	if k.Verification == nil || k.Encryption == nil || !g.IsElement(k.Verification.Big()) || !g.IsElement(k.Encryption.Big()) {
		return CertKeys{}, errors.New("a key is not in the group")
	}
	if !VerifySigned(g, k.Verification.Big(), m) {
		return CertKeys{}, errors.New("the signature does not verify")
	}
	return k, nil
}

func readCoefexps(g *Group, vk *big.Int, m SignedMsg) ([]*big.Int, error) {
	if !VerifySigned(g, vk, m) {
		return nil, errors.New("the signature does not verify")
	}
	var c RawCoefexps
	if err := UnmarshalStrict([]byte(m.Message), &c); err != nil {
		return nil, err
	}
	out := make([]*big.Int, len(c.Coefexps))
	for k, x := range c.Coefexps {
		if x == nil || !g.IsElement(x.Big()) {
			return nil, errors.New("a commitment is not in the group")
		}
		out[k] = x.Big()
	}
	return out, nil
}

// VerificationKeys computes the members' verification keys from their
// commitments: for member j, the product over i and k of coefs[i][k]^(j^k),
// that is g to the sum of the members' polynomials at j.
func VerificationKeys(g *Group, coefs [][]*big.Int) []*big.Int {
	out := make([]*big.Int, len(coefs))
	for j := range out {
		out[j] = commitmentAt(g, coefs, j+1)
	}
	return out
}

// commitmentAt is g^(sum_i f_i(j)) from the commitments of the polynomials f_i.
func commitmentAt(g *Group, coefs [][]*big.Int, j int) *big.Int {
	vk := big.NewInt(1)
	for _, c := range coefs {
		vk.Mul(vk, evalCommitment(g, c, j)).Mod(vk, g.P)
	}
	return vk
}

// evalCommitment is g^f(j) from the commitments c_k = g^a_k of f = sum a_k X^k.
func evalCommitment(g *Group, c []*big.Int, j int) *big.Int {
	acc := big.NewInt(1)
	jk := big.NewInt(1)
	jj := big.NewInt(int64(j))
	for _, ck := range c {
		acc.Mul(acc, new(big.Int).Exp(ck, jk, g.P)).Mod(acc, g.P)
		jk = new(big.Int).Mul(jk, jj)
	}
	return acc
}

// VerifySigned checks a signed message against the signer's verification key
// vk: c = H("sigmsg|message|", g^r vk^c), both numbers scalars.
func VerifySigned(g *Group, vk *big.Int, m SignedMsg) bool {
	if vk == nil || m.Signature.Challenge == nil || m.Signature.Response == nil {
		return false
	}
	return schnorrVerify(g, vk, signedPrefix(m.Message), m.Signature)
}

func signedPrefix(message string) string { return "sigmsg|" + message + "|" }
