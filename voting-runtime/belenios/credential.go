package belenios

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"filippo.io/bigmod"
)

// base58 is Belenios's alphabet for credentials and election uuids.
const base58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// credentialDigits is the number of random digits of a credential; a checksum
// digit follows.
const credentialDigits = 14

// maxJSONWeight is the largest weight Belenios writes as a JSON number.
const maxJSONWeight = 1073741823

// randomBase58 is n digits drawn uniformly from the Base58 alphabet with
// crypto/rand, and their value read as a big-endian base-58 number.
func randomBase58(n int) (string, *big.Int, error) {
	b := make([]byte, n)
	v := new(big.Int)
	n58 := big.NewInt(58)
	for i := range b {
		d, err := rand.Int(rand.Reader, n58)
		if err != nil {
			return "", nil, err
		}
		b[i] = base58[d.Int64()]
		v.Mul(v, n58).Add(v, d)
	}
	return string(b), v, nil
}

// NewCredential is a fresh private credential as Belenios prints it:
// "XXX-XXX-XXX-XXX-XXX", 14 random Base58 digits and a checksum digit.
func NewCredential() (string, error) {
	raw, v, err := randomBase58(credentialDigits)
	if err != nil {
		return "", err
	}
	check := 53 - int(new(big.Int).Mod(v, big.NewInt(53)).Int64())
	raw += string(base58[check])
	return raw[0:3] + "-" + raw[3:6] + "-" + raw[6:9] + "-" + raw[9:12] + "-" + raw[12:15], nil
}

// CheckCredential says whether cred is a well-formed private credential in the
// printed form "XXX-XXX-XXX-XXX-XXX" whose checksum holds. The error never
// repeats the credential.
func CheckCredential(cred string) error {
	if len(cred) != credentialDigits+5 || cred[3] != '-' || cred[7] != '-' || cred[11] != '-' || cred[15] != '-' {
		return errors.New("a credential is five groups of three characters separated by dashes")
	}
	raw := cred[0:3] + cred[4:7] + cred[8:11] + cred[12:15] + cred[16:19]
	v := new(big.Int)
	n58 := big.NewInt(58)
	for i := 0; i < credentialDigits; i++ {
		d := strings.IndexByte(base58, raw[i])
		if d < 0 {
			return errors.New("a credential holds Base58 characters only")
		}
		v.Mul(v, n58).Add(v, big.NewInt(int64(d)))
	}
	c := strings.IndexByte(base58, raw[credentialDigits])
	if c < 0 {
		return errors.New("a credential holds Base58 characters only")
	}
	if v.Add(v, big.NewInt(int64(c))).Mod(v, big.NewInt(53)).Sign() != 0 {
		return errors.New("the credential's checksum does not hold: it was mistyped")
	}
	return nil
}

// CredentialSecret is the signing key a credential stands for in the election
// uuid: PBKDF2-HMAC-SHA256 of the credential as printed (dashes included), salted
// with the uuid, 1000 iterations, 32 bytes, read big-endian, mod Q.
func CredentialSecret(g *Group, cred, uuid string) *big.Int {
	key, err := pbkdf2.Key(sha256.New, cred, []byte(uuid), 1000, 32)
	if err != nil {
		// Only FIPS 140-only mode refuses these parameters (a short salt).
		panic("belenios: pbkdf2: " + err.Error())
	}
	// Reduced mod Q in constant time (bigmod): Q > 2^255, so one conditional
	// subtraction reduces any 256-bit value.
	q := g.scalarModulus()
	n, err := bigmod.NewNat().SetOverflowingBytes(key, q)
	if err != nil {
		panic("belenios: pbkdf2 output longer than Q")
	}
	return fromNat(q, n)
}

// PublicCredentialOf is the public credential of cred in the election uuid:
// G^CredentialSecret, what `belenios-tool setup generate-credentials --derive`
// prints.
func PublicCredentialOf(g *Group, cred, uuid string) *big.Int {
	return secretExp(g, g.G, CredentialSecret(g, cred, uuid))
}

// PublicCredential is one voter's public credential with its weight. VoterID
// stays with the credential authority and the roll: it is never published.
type PublicCredential struct {
	Credential *big.Int
	Weight     int64
	VoterID    string
}

func checkPublicCredentials(pcs []PublicCredential) error {
	seen := make(map[string]int, len(pcs))
	for i, pc := range pcs {
		if pc.Credential == nil || pc.Credential.Sign() <= 0 {
			return fmt.Errorf("public credential %d is missing", i+1)
		}
		if pc.Weight <= 0 {
			return fmt.Errorf("public credential %d: the weight must be positive", i+1)
		}
		k := string(pc.Credential.Bytes())
		if j, dup := seen[k]; dup {
			return fmt.Errorf("public credentials %d and %d are the same", j+1, i+1)
		}
		seen[k] = i
	}
	return nil
}

// MarshalPublicCredentials is the archive's public_credentials record: a JSON
// list of decimal strings sorted numerically, each "cred" when every weight is 1,
// else "cred,weight". No voter id.
func MarshalPublicCredentials(pcs []PublicCredential) ([]byte, error) {
	if err := checkPublicCredentials(pcs); err != nil {
		return nil, err
	}
	sorted := append([]PublicCredential(nil), pcs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Credential.Cmp(sorted[j].Credential) < 0 })
	weighted := false
	for _, pc := range sorted {
		if pc.Weight != 1 {
			weighted = true
		}
	}
	out := make([]string, len(sorted))
	for i, pc := range sorted {
		out[i] = pc.Credential.Text(10)
		if weighted {
			out[i] += "," + strconv.FormatInt(pc.Weight, 10)
		}
	}
	return Marshal(out)
}

// ParsePublicCredentials reads the archive's public_credentials record ("cred" or
// "cred,weight" strings); it checks every credential is a group element and none
// is repeated, as belenios-tool does.
func ParsePublicCredentials(g *Group, raw []byte) ([]PublicCredential, error) {
	var list []string
	if err := UnmarshalStrict(raw, &list); err != nil {
		return nil, fmt.Errorf("public credentials: %w", err)
	}
	pcs := make([]PublicCredential, len(list))
	for i, s := range list {
		fields := strings.Split(s, ",")
		if len(fields) > 2 {
			return nil, fmt.Errorf("public credential %d: too many fields", i+1)
		}
		pc, err := parsePubcredFields(fields)
		if err != nil {
			return nil, fmt.Errorf("public credential %d: %w", i+1, err)
		}
		pcs[i] = pc
	}
	if err := checkElements(g, pcs); err != nil {
		return nil, err
	}
	return pcs, checkPublicCredentials(pcs)
}

func parsePubcredFields(fields []string) (PublicCredential, error) {
	var pc PublicCredential
	x, ok := new(big.Int).SetString(fields[0], 10)
	if !ok || x.Sign() <= 0 || fields[0][0] == '0' || fields[0][0] == '+' {
		return pc, errors.New("not a decimal number")
	}
	pc.Credential = x
	pc.Weight = 1
	if len(fields) > 1 && fields[1] != "" {
		w, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || w <= 0 {
			return pc, errors.New("the weight is not a positive integer")
		}
		pc.Weight = w
	}
	if len(fields) > 2 {
		pc.VoterID = fields[2]
	}
	return pc, nil
}

// checkElements checks every public credential is an element of g, in parallel.
func checkElements(g *Group, pcs []PublicCredential) error {
	bad := make([]bool, len(pcs))
	parallelFor(len(pcs), func(i int) { bad[i] = !g.IsElement(pcs[i].Credential) })
	for i, b := range bad {
		if b {
			return fmt.Errorf("public credential %d is not an element of the group", i+1)
		}
	}
	return nil
}

// ReadPubcreds reads the credential authority's offline file in Belenios's
// .pubcreds shape: a JSON list of "cred,weight,voter_id" strings, the weight
// empty for 1. Every credential is checked to be a group element of
// BELENIOS-2048, and none may repeat.
func ReadPubcreds(r io.Reader) ([]PublicCredential, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var list []string
	if err := UnmarshalStrict(bytes.TrimSpace(raw), &list); err != nil {
		return nil, fmt.Errorf("public credentials: %w", err)
	}
	pcs := make([]PublicCredential, len(list))
	for i, s := range list {
		fields := strings.SplitN(s, ",", 3)
		if len(fields) != 3 {
			return nil, fmt.Errorf("public credential %d: want \"credential,weight,voter_id\"", i+1)
		}
		pc, err := parsePubcredFields(fields)
		if err != nil {
			return nil, fmt.Errorf("public credential %d: %w", i+1, err)
		}
		if pc.VoterID == "" {
			return nil, fmt.Errorf("public credential %d: the voter id is missing", i+1)
		}
		pcs[i] = pc
	}
	if err := checkElements(Belenios2048(), pcs); err != nil {
		return nil, err
	}
	return pcs, checkPublicCredentials(pcs)
}

// WritePubcreds writes pcs in Belenios's .pubcreds shape ("cred,weight,voter_id",
// the weight left empty for 1), one JSON list followed by a newline.
func WritePubcreds(w io.Writer, pcs []PublicCredential) error {
	if err := checkPublicCredentials(pcs); err != nil {
		return err
	}
	out := make([]string, len(pcs))
	for i, pc := range pcs {
		if pc.VoterID == "" || strings.ContainsAny(pc.VoterID, "\n") {
			return fmt.Errorf("public credential %d: the voter id is missing or holds a newline", i+1)
		}
		weight := ""
		if pc.Weight != 1 {
			weight = strconv.FormatInt(pc.Weight, 10)
		}
		out[i] = pc.Credential.Text(10) + "," + weight + "," + pc.VoterID
	}
	b, err := Marshal(out)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
