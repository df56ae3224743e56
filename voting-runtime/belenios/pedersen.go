package belenios

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
)

// The offline key ceremony for a Pedersen (threshold) entry: n trustees end up
// each holding a share x_j of a decryption key whose public part is the
// product of their commitments, so that any Threshold of them can decrypt and
// fewer learn nothing. Every step runs on one machine with files: each trustee
// on their own machine, the coordinator (the election's organiser, who may be
// one of the trustees) wherever they like. Files go between them by any channel
// (mail, a shared folder): the public ones are signed, and the shares dealt
// from one trustee to another are encrypted to the recipient, so the channel
// needs no secrecy. A trustee's private files never leave their machine.
//
//	step  who          reads                                  writes
//	1     each trustee -                                      key (PRIVATE), cert (to the coordinator)
//	2     coordinator  every cert, threshold                  ceremony (to every trustee)
//	3     each trustee ceremony, key                          deal (to the coordinator)
//	4     coordinator  ceremony, every deal                   deals (to every trustee)
//	5     each trustee ceremony, key, deals                   share (PRIVATE), verification key (to the coordinator)
//	6     coordinator  ceremony, deals, every verification key  the Pedersen entry ["Pedersen",{…}] (public)
//	7     each trustee the Pedersen entry, share              (checks the share is theirs in that entry)
//
// Step 2 fixes the members' order (that of the certs given): member j is the
// j-th, and its owner number in the election is the number of owners before
// the entry plus j. The key file is needed until step 5 only; the share file
// is the trustee's decryption key (a JSON decimal string, like belenios-tool's
// .privkey, which belenios-tool's `election decrypt --privkey` also takes) and
// must be kept until the election is tallied. The public entry is what
// spec.verifiability.trustees.threshold.trustees takes; its value (the object
// after "Pedersen") is what belenios-tool's make-trustees reads as
// threshold.json.
//
// Every step checks what it reads (signatures, the ceremony each deal names,
// each share against its dealer's commitments, each verification key against
// all commitments) and fails naming the member at fault: the ceremony then
// starts again, without them if need be. Private files must be created by the
// caller with mode 0600.

// CeremonyKey is a trustee's private key for the ceremony: Signing signs their
// public messages, Decryption opens the shares dealt to them.
type CeremonyKey struct {
	Signing    *Int `json:"signing"`
	Decryption *Int `json:"decryption"`
}

// Ceremony is what the coordinator sends every trustee at step 2: the group,
// the threshold and the members' certificates, in member order.
type Ceremony struct {
	Group     string      `json:"group"`
	Threshold int         `json:"threshold"`
	Certs     []SignedMsg `json:"certs"`
}

// Deal is member i's public output of step 3: the signed commitments to its
// polynomial (as the Pedersen entry carries them) and its signed shares, one
// per member, each encrypted to that member.
type Deal struct {
	Coefexps SignedMsg `json:"coefexps"`
	Secrets  SignedMsg `json:"secrets"` // message: a DealSecrets
}

// DealSecrets is the message of Deal.Secrets: it names the ceremony (the
// SHA256Hex of its file's canonical bytes), the dealer (1-based), the
// commitments (the SHA256Hex of their message) and holds the encrypted shares,
// Secrets[j-1] for member j.
type DealSecrets struct {
	Ceremony string           `json:"ceremony"`
	From     int              `json:"from"`
	Coefexps string           `json:"coefexps"`
	Secrets  []EncryptedShare `json:"secrets"`
}

// EncryptedShare is f_i(j) encrypted to member j's encryption key E: with r
// random, Alpha = g^r, and Data the hexadecimal of a 12-byte nonce followed by
// AES-256-GCM of the decimal share under SHA-256("scrutin-pedersen-share|" +
// E^r), the additional data naming the ceremony, the dealer and the recipient.
type EncryptedShare struct {
	Alpha *Int   `json:"alpha"`
	Data  string `json:"data"`
}

// Deals is the coordinator's step-4 bundle: every member's deal, in member order.
type Deals struct {
	Deals []Deal `json:"deals"`
}

// NewCeremonyKey is step 1: a trustee's fresh private key and their
// certificate (a Belenios cert: {"verification":g^s,"encryption":g^d},
// signed with s).
func NewCeremonyKey(g *Group) (*CeremonyKey, SignedMsg, error) {
	s, err := g.RandomScalar()
	if err != nil {
		return nil, SignedMsg{}, err
	}
	d, err := g.RandomScalar()
	if err != nil {
		return nil, SignedMsg{}, err
	}
	msg, err := Marshal(CertKeys{Verification: NewInt(secretExp(g, g.G, s)), Encryption: NewInt(secretExp(g, g.G, d))})
	if err != nil {
		return nil, SignedMsg{}, err
	}
	cert, err := Sign(g, s, string(msg))
	if err != nil {
		return nil, SignedMsg{}, err
	}
	return &CeremonyKey{Signing: NewInt(s), Decryption: NewInt(d)}, cert, nil
}

// NewCeremony is step 2: the coordinator checks every certificate and fixes
// the members' order and the threshold (members needed to decrypt, 1 to n).
func NewCeremony(g *Group, threshold int, certs []SignedMsg) (*Ceremony, error) {
	c := &Ceremony{Group: g.Name, Threshold: threshold, Certs: certs}
	if _, err := c.check(g); err != nil {
		return nil, err
	}
	return c, nil
}

// check verifies the ceremony's shape and certificates and returns their keys.
func (c *Ceremony) check(g *Group) ([]CertKeys, error) {
	if c.Group != g.Name {
		return nil, fmt.Errorf("the ceremony is for group %q, not %s", c.Group, g.Name)
	}
	n := len(c.Certs)
	if n == 0 {
		return nil, errors.New("the ceremony has no member")
	}
	if c.Threshold < 1 || c.Threshold > n {
		return nil, fmt.Errorf("threshold %d is not between 1 and the %d members", c.Threshold, n)
	}
	p := ThresholdParameters{Certs: c.Certs}
	keys, err := p.CertKeys(g)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		for k := 0; k < i; k++ {
			if keys[i].Verification.Big().Cmp(keys[k].Verification.Big()) == 0 ||
				keys[i].Encryption.Big().Cmp(keys[k].Encryption.Big()) == 0 {
				return nil, fmt.Errorf("certificates %d and %d share a key", k+1, i+1)
			}
		}
	}
	return keys, nil
}

// ID is the ceremony's identifier, the SHA256Hex of its canonical bytes: the
// deals name it, so that no deal serves in another ceremony.
func (c *Ceremony) ID() (string, error) {
	b, err := Marshal(c)
	if err != nil {
		return "", err
	}
	return SHA256Hex(b), nil
}

// member is the 1-based index of the key's certificate.
func (c *Ceremony) member(g *Group, certs []CertKeys, key *CeremonyKey) (int, error) {
	if key == nil || !g.IsScalar(key.Signing.Big()) || !g.IsScalar(key.Decryption.Big()) {
		return 0, errors.New("the ceremony key is incomplete or not numbers below Q")
	}
	vk, ek := secretExp(g, g.G, key.Signing.Big()), secretExp(g, g.G, key.Decryption.Big())
	for i, k := range certs {
		if k.Verification.Big().Cmp(vk) == 0 && k.Encryption.Big().Cmp(ek) == 0 {
			return i + 1, nil
		}
	}
	return 0, errors.New("this key's certificate is not in the ceremony")
}

// Deal is step 3, run by each trustee with their key: a random polynomial f of
// degree Threshold-1, the signed commitments g^a_k to its coefficients and
// f(j) encrypted to each member j. The polynomial is not kept.
func (c *Ceremony) Deal(g *Group, key *CeremonyKey) (*Deal, error) {
	certs, err := c.check(g)
	if err != nil {
		return nil, err
	}
	me, err := c.member(g, certs, key)
	if err != nil {
		return nil, err
	}
	id, err := c.ID()
	if err != nil {
		return nil, err
	}
	poly := make([]*big.Int, c.Threshold)
	commits := make([]*Int, c.Threshold)
	for k := range poly {
		if poly[k], err = g.RandomScalar(); err != nil {
			return nil, err
		}
		commits[k] = NewInt(secretExp(g, g.G, poly[k]))
	}
	cmsg, err := Marshal(RawCoefexps{Coefexps: commits})
	if err != nil {
		return nil, err
	}
	coefexps, err := Sign(g, key.Signing.Big(), string(cmsg))
	if err != nil {
		return nil, err
	}
	ds := DealSecrets{Ceremony: id, From: me, Coefexps: SHA256Hex(cmsg), Secrets: make([]EncryptedShare, len(certs))}
	for j := range certs {
		share := evalPoly(g, poly, j+1)
		ds.Secrets[j], err = encryptShare(g, certs[j].Encryption.Big(), shareAD(id, me, j+1), share)
		if err != nil {
			return nil, err
		}
	}
	smsg, err := Marshal(ds)
	if err != nil {
		return nil, err
	}
	secrets, err := Sign(g, key.Signing.Big(), string(smsg))
	if err != nil {
		return nil, err
	}
	return &Deal{Coefexps: coefexps, Secrets: secrets}, nil
}

// openDeal checks a deal's signatures and shape and says who dealt it.
func (c *Ceremony) openDeal(g *Group, certs []CertKeys, id string, d Deal) (int, []*big.Int, *DealSecrets, error) {
	var ds DealSecrets
	if err := UnmarshalStrict([]byte(d.Secrets.Message), &ds); err != nil {
		return 0, nil, nil, fmt.Errorf("a deal's secrets cannot be read: %w", err)
	}
	if ds.Ceremony != id {
		return 0, nil, nil, errors.New("a deal was made for another ceremony")
	}
	i := ds.From
	if i < 1 || i > len(certs) {
		return 0, nil, nil, fmt.Errorf("a deal names member %d, of %d", i, len(certs))
	}
	vk := certs[i-1].Verification.Big()
	if !VerifySigned(g, vk, d.Secrets) {
		return 0, nil, nil, fmt.Errorf("member %d's deal: the secrets' signature does not verify", i)
	}
	coefs, err := readCoefexps(g, vk, d.Coefexps)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("member %d's deal: %w", i, err)
	}
	if len(coefs) != c.Threshold {
		return 0, nil, nil, fmt.Errorf("member %d's deal commits to %d coefficients, not the threshold %d", i, len(coefs), c.Threshold)
	}
	if ds.Coefexps != SHA256Hex([]byte(d.Coefexps.Message)) {
		return 0, nil, nil, fmt.Errorf("member %d's deal: the secrets do not name these commitments", i)
	}
	if len(ds.Secrets) != len(certs) {
		return 0, nil, nil, fmt.Errorf("member %d's deal has %d shares, not %d", i, len(ds.Secrets), len(certs))
	}
	return i, coefs, &ds, nil
}

// CollectDeals is step 4, run by the coordinator: it checks every member's
// deal and orders them by member. Each member must have dealt exactly once.
func (c *Ceremony) CollectDeals(g *Group, deals []Deal) (*Deals, error) {
	certs, err := c.check(g)
	if err != nil {
		return nil, err
	}
	id, err := c.ID()
	if err != nil {
		return nil, err
	}
	out := make([]Deal, len(certs))
	seen := make([]bool, len(certs))
	for _, d := range deals {
		i, _, _, err := c.openDeal(g, certs, id, d)
		if err != nil {
			return nil, err
		}
		if seen[i-1] {
			return nil, fmt.Errorf("member %d dealt twice", i)
		}
		seen[i-1], out[i-1] = true, d
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("member %d's deal is missing", i+1)
		}
	}
	return &Deals{Deals: out}, nil
}

// checkDeals opens every deal of the bundle, which must be in member order,
// and returns each member's commitments and secrets.
func (c *Ceremony) checkDeals(g *Group, certs []CertKeys, deals *Deals) ([][]*big.Int, []*DealSecrets, error) {
	id, err := c.ID()
	if err != nil {
		return nil, nil, err
	}
	if deals == nil || len(deals.Deals) != len(certs) {
		return nil, nil, fmt.Errorf("the deals must be one per member (%d)", len(certs))
	}
	coefs := make([][]*big.Int, len(certs))
	secrets := make([]*DealSecrets, len(certs))
	for k, d := range deals.Deals {
		i, cs, ds, err := c.openDeal(g, certs, id, d)
		if err != nil {
			return nil, nil, err
		}
		if i != k+1 {
			return nil, nil, fmt.Errorf("deal %d is member %d's: the deals are not in member order", k+1, i)
		}
		coefs[k], secrets[k] = cs, ds
	}
	return coefs, secrets, nil
}

// Share is step 5, run by each trustee with their key: it opens the shares
// dealt to them, checks each against its dealer's commitments, and returns
// their share x_j (the sum; their PRIVATE decryption key) and its public
// verification key g^x_j with a proof of knowledge, for the coordinator.
func (c *Ceremony) Share(g *Group, key *CeremonyKey, deals *Deals) (*big.Int, TrusteePublicKey, error) {
	certs, err := c.check(g)
	if err != nil {
		return nil, TrusteePublicKey{}, err
	}
	me, err := c.member(g, certs, key)
	if err != nil {
		return nil, TrusteePublicKey{}, err
	}
	coefs, secrets, err := c.checkDeals(g, certs, deals)
	if err != nil {
		return nil, TrusteePublicKey{}, err
	}
	id, _ := c.ID()
	x := new(big.Int)
	for i := range secrets {
		s, err := decryptShare(g, key.Decryption.Big(), shareAD(id, i+1, me), secrets[i].Secrets[me-1])
		if err != nil {
			return nil, TrusteePublicKey{}, fmt.Errorf("the share member %d dealt me: %w", i+1, err)
		}
		if secretExp(g, g.G, s).Cmp(evalCommitment(g, coefs[i], me)) != 0 {
			return nil, TrusteePublicKey{}, fmt.Errorf("the share member %d dealt me does not match their commitments", i+1)
		}
		x.Add(x, s).Mod(x, g.Q)
	}
	vk, err := TrusteeKeyOf(g, x)
	if err != nil {
		return nil, TrusteePublicKey{}, err
	}
	return x, vk, nil
}

// Finish is step 6, run by the coordinator: with every member's verification
// key (in any order), each checked (proof of knowledge, and equal to what the
// commitments give), the Pedersen entry of the trustees list.
func (c *Ceremony) Finish(g *Group, deals *Deals, vks []TrusteePublicKey) (TrusteeEntry, error) {
	certs, err := c.check(g)
	if err != nil {
		return TrusteeEntry{}, err
	}
	coefs, _, err := c.checkDeals(g, certs, deals)
	if err != nil {
		return TrusteeEntry{}, err
	}
	want := VerificationKeys(g, coefs)
	ordered := make([]TrusteePublicKey, len(want))
	found := make([]bool, len(want))
	for _, vk := range vks {
		if err := VerifyTrusteeKey(g, vk); err != nil {
			return TrusteeEntry{}, fmt.Errorf("a verification key: %w", err)
		}
		j := -1
		for k, w := range want {
			if vk.PublicKey.Big().Cmp(w) == 0 {
				j = k
			}
		}
		if j < 0 {
			return TrusteeEntry{}, errors.New("a verification key is none of the members' (their share does not match the deals)")
		}
		if found[j] {
			return TrusteeEntry{}, fmt.Errorf("member %d's verification key was given twice", j+1)
		}
		found[j], ordered[j] = true, vk
	}
	for j, ok := range found {
		if !ok {
			return TrusteeEntry{}, fmt.Errorf("member %d's verification key is missing", j+1)
		}
	}
	p := &ThresholdParameters{Threshold: c.Threshold, Certs: c.Certs, VerificationKeys: ordered}
	for _, d := range deals.Deals {
		p.Coefexps = append(p.Coefexps, d.Coefexps)
	}
	if err := p.Verify(g); err != nil {
		return TrusteeEntry{}, err
	}
	return TrusteeEntry{Pedersen: p}, nil
}

// CheckShare is step 7, run by each trustee on the published entry: it
// verifies the entry and says which member (1-based) the share x belongs to.
func CheckShare(g *Group, entry TrusteeEntry, x *big.Int) (int, error) {
	if entry.Pedersen == nil || entry.Single != nil {
		return 0, errors.New("not a Pedersen entry")
	}
	if !g.IsScalar(x) {
		return 0, errors.New("the share is not a number below Q")
	}
	if err := entry.Pedersen.Verify(g); err != nil {
		return 0, err
	}
	X := secretExp(g, g.G, x)
	for j, vk := range entry.Pedersen.VerificationKeys {
		if vk.PublicKey.Big().Cmp(X) == 0 {
			return j + 1, nil
		}
	}
	return 0, errors.New("this share is none of the entry's members'")
}

// Sign signs message with the signing key s (Belenios's signed_msg): w random,
// c = H("sigmsg|message|", g^w), r = w - s c mod Q.
func Sign(g *Group, s *big.Int, message string) (SignedMsg, error) {
	p, err := schnorrProve(g, s, signedPrefix(message))
	if err != nil {
		return SignedMsg{}, err
	}
	return SignedMsg{Message: message, Signature: p}, nil
}

// evalPoly is f(j) mod Q for f = sum poly[k] X^k.
func evalPoly(g *Group, poly []*big.Int, j int) *big.Int {
	acc := new(big.Int)
	jj := big.NewInt(int64(j))
	for k := len(poly) - 1; k >= 0; k-- {
		acc.Mul(acc, jj).Add(acc, poly[k]).Mod(acc, g.Q)
	}
	return acc
}

func shareAD(ceremony string, from, to int) []byte {
	return []byte("scrutin-pedersen-share|" + ceremony + "|" + strconv.Itoa(from) + "|" + strconv.Itoa(to))
}

func shareCipher(k *big.Int) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte("scrutin-pedersen-share|" + k.Text(10)))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func encryptShare(g *Group, E *big.Int, ad []byte, share *big.Int) (EncryptedShare, error) {
	r, err := g.RandomScalar()
	if err != nil {
		return EncryptedShare{}, err
	}
	aead, err := shareCipher(secretExp(g, E, r))
	if err != nil {
		return EncryptedShare{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return EncryptedShare{}, err
	}
	data := aead.Seal(nonce, nonce, []byte(share.Text(10)), ad)
	return EncryptedShare{Alpha: NewInt(secretExp(g, g.G, r)), Data: hex.EncodeToString(data)}, nil
}

func decryptShare(g *Group, d *big.Int, ad []byte, e EncryptedShare) (*big.Int, error) {
	if e.Alpha == nil || !g.IsElement(e.Alpha.Big()) {
		return nil, errors.New("malformed encrypted share")
	}
	data, err := hex.DecodeString(e.Data)
	if err != nil {
		return nil, errors.New("malformed encrypted share")
	}
	aead, err := shareCipher(secretExp(g, e.Alpha.Big(), d))
	if err != nil {
		return nil, err
	}
	if len(data) < aead.NonceSize() {
		return nil, errors.New("malformed encrypted share")
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], ad)
	if err != nil {
		return nil, errors.New("the encrypted share does not open with my key")
	}
	s, ok := new(big.Int).SetString(string(plain), 10)
	if !ok || !g.IsScalar(s) {
		return nil, errors.New("the share is not a number below Q")
	}
	return s, nil
}

// The ceremony's files: one JSON document each (canonical, followed by a
// newline); a trustee's certificate, deal and verification key are one line
// each, so a coordinator may also concatenate them.

// WriteJSONLine writes v as Marshal does, followed by a newline.
func WriteJSONLine(w io.Writer, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// ReadJSON reads exactly one JSON document (unknown fields refused).
func ReadJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return UnmarshalStrict(bytes.TrimSpace(b), v)
}

// ReadJSONLines reads one JSON document per non-empty line (certificates,
// deals or verification keys concatenated by the coordinator).
func ReadJSONLines[T any](r io.Reader) ([]T, error) {
	var out []T
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<26)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v T
		if err := UnmarshalStrict(line, &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// WriteShare writes a trustee's share (or any trustee private key) as
// belenios-tool writes a .privkey: a JSON decimal string and a newline.
func WriteShare(w io.Writer, x *big.Int) error { return WriteJSONLine(w, NewInt(x)) }

// ReadShare reads a share written by WriteShare (or a belenios-tool .privkey).
func ReadShare(g *Group, r io.Reader) (*big.Int, error) {
	var x Int
	if err := ReadJSON(r, &x); err != nil {
		return nil, fmt.Errorf("a trustee key file holds a decimal number in a JSON string: %w", err)
	}
	if !g.IsScalar(x.Big()) {
		return nil, errors.New("the trustee key is not a number below Q")
	}
	return x.Big(), nil
}

// The steps over files, for a command-line tool: each reads its inputs and
// writes its outputs, one JSON document per file (see the table above).
// Several inputs of one kind (every trustee's cert, deal or verification key)
// are read from one stream, one per line: the files concatenated.

// CeremonyStep1 (each trustee) writes a new ceremony key to key (PRIVATE) and
// the certificate to send to the coordinator to cert.
func CeremonyStep1(g *Group, key, cert io.Writer) error {
	k, c, err := NewCeremonyKey(g)
	if err != nil {
		return err
	}
	if err := WriteJSONLine(key, k); err != nil {
		return err
	}
	return WriteJSONLine(cert, c)
}

// CeremonyStep2 (coordinator) reads every trustee's certificate, one per line
// in member order, and writes the ceremony file to send to every trustee.
func CeremonyStep2(g *Group, threshold int, certs io.Reader, ceremony io.Writer) error {
	cs, err := ReadJSONLines[SignedMsg](certs)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	c, err := NewCeremony(g, threshold, cs)
	if err != nil {
		return err
	}
	return WriteJSONLine(ceremony, c)
}

func readCeremony(r io.Reader) (*Ceremony, error) {
	var c Ceremony
	if err := ReadJSON(r, &c); err != nil {
		return nil, fmt.Errorf("ceremony file: %w", err)
	}
	return &c, nil
}

func readCeremonyKey(r io.Reader) (*CeremonyKey, error) {
	var k CeremonyKey
	if err := ReadJSON(r, &k); err != nil {
		return nil, fmt.Errorf("ceremony key file: %w", err)
	}
	return &k, nil
}

// CeremonyStep3 (each trustee) reads the ceremony and their key and writes
// their deal, to send to the coordinator.
func CeremonyStep3(g *Group, ceremony, key io.Reader, deal io.Writer) error {
	c, err := readCeremony(ceremony)
	if err != nil {
		return err
	}
	k, err := readCeremonyKey(key)
	if err != nil {
		return err
	}
	d, err := c.Deal(g, k)
	if err != nil {
		return err
	}
	return WriteJSONLine(deal, d)
}

// CeremonyStep4 (coordinator) reads the ceremony and every trustee's deal
// (one per line, any order) and writes the deals file to send to every trustee.
func CeremonyStep4(g *Group, ceremony, deals io.Reader, out io.Writer) error {
	c, err := readCeremony(ceremony)
	if err != nil {
		return err
	}
	ds, err := ReadJSONLines[Deal](deals)
	if err != nil {
		return fmt.Errorf("deals: %w", err)
	}
	bundle, err := c.CollectDeals(g, ds)
	if err != nil {
		return err
	}
	return WriteJSONLine(out, bundle)
}

// CeremonyStep5 (each trustee) reads the ceremony, their key and the deals
// file, and writes their share to share (PRIVATE: their decryption key) and
// their verification key, to send to the coordinator, to vk.
func CeremonyStep5(g *Group, ceremony, key, deals io.Reader, share, vk io.Writer) error {
	c, err := readCeremony(ceremony)
	if err != nil {
		return err
	}
	k, err := readCeremonyKey(key)
	if err != nil {
		return err
	}
	var d Deals
	if err := ReadJSON(deals, &d); err != nil {
		return fmt.Errorf("deals file: %w", err)
	}
	x, pub, err := c.Share(g, k, &d)
	if err != nil {
		return err
	}
	if err := WriteShare(share, x); err != nil {
		return err
	}
	return WriteJSONLine(vk, pub)
}

// CeremonyStep6 (coordinator) reads the ceremony, the deals file and every
// trustee's verification key (one per line, any order), and writes the
// Pedersen entry ["Pedersen",{…}], public.
func CeremonyStep6(g *Group, ceremony, deals, vks io.Reader, entry io.Writer) error {
	c, err := readCeremony(ceremony)
	if err != nil {
		return err
	}
	var d Deals
	if err := ReadJSON(deals, &d); err != nil {
		return fmt.Errorf("deals file: %w", err)
	}
	keys, err := ReadJSONLines[TrusteePublicKey](vks)
	if err != nil {
		return fmt.Errorf("verification keys: %w", err)
	}
	e, err := c.Finish(g, &d, keys)
	if err != nil {
		return err
	}
	return WriteJSONLine(entry, e)
}

// CeremonyStep7 (each trustee) reads the published Pedersen entry and their
// share, checks the entry and says which member (1-based) they are in it.
func CeremonyStep7(g *Group, entry, share io.Reader) (int, error) {
	b, err := io.ReadAll(entry)
	if err != nil {
		return 0, err
	}
	e, err := ParseTrusteeEntry(b)
	if err != nil {
		return 0, err
	}
	x, err := ReadShare(g, share)
	if err != nil {
		return 0, err
	}
	return CheckShare(g, e, x)
}
