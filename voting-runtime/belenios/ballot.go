package belenios

import (
	"bytes"
	"fmt"
	"math/big"
	"strings"
)

// Plaintext is a voter's choices: per question, per slot, 0 or 1, the blank
// slot first when the question allows a blank vote (1 there, and 0 everywhere
// else, is a blank answer).
type Plaintext [][]int

// Reasons a ballot is refused (BallotError.Reason).
const (
	ReasonNotCanonical      = "not-canonical"
	ReasonWrongElection     = "wrong-election"
	ReasonUnknownCredential = "unknown-credential"
	ReasonBadSignature      = "bad-signature"
	ReasonBadProof          = "bad-proof"
)

// BallotError says why a ballot is refused. Its message names no voter,
// credential or choice.
type BallotError struct {
	Reason  string
	Message string
}

func (e *BallotError) Error() string { return e.Reason + ": " + e.Message }

func ballotErr(reason, format string, args ...any) *BallotError {
	return &BallotError{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Tracker is a ballot's tracker: the SHA256B64 of its exact bytes.
func Tracker(raw []byte) string { return SHA256B64(raw) }

// checkPlaintext checks choices against the questions without saying what the
// choices are.
func checkPlaintext(qs []Question, choices Plaintext) error {
	if len(choices) != len(qs) {
		return fmt.Errorf("the ballot answers %d questions, the election has %d", len(choices), len(qs))
	}
	for i, q := range qs {
		m := choices[i]
		if len(m) != q.slots() {
			return fmt.Errorf("question %d: %d slots expected", i+1, q.slots())
		}
		sum := 0
		for _, v := range m {
			if v != 0 && v != 1 {
				return fmt.Errorf("question %d: each slot is 0 or 1", i+1)
			}
			sum += v
		}
		if q.Blank {
			if m[0] == 1 {
				if sum != 1 {
					return fmt.Errorf("question %d: a blank answer selects nothing else", i+1)
				}
				continue
			}
		}
		if sum < q.Min || sum > q.Max {
			return fmt.Errorf("question %d: the number of selected answers is out of bounds", i+1)
		}
	}
	return nil
}

func ciphertextsText(cs []Ciphertext) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.Alpha.Big().Text(10))
		b.WriteByte(',')
		b.WriteString(c.Beta.Big().Text(10))
	}
	return b.String()
}

func proveIndividualPrefix(zkp string, c Ciphertext) string {
	return "prove|" + zkp + "|" + c.Alpha.Big().Text(10) + "," + c.Beta.Big().Text(10) + "|"
}

// NewBallot encrypts choices for the election with the voter's credential and
// signs the ballot: the canonical ballot JSON, as belenios-tool's verify
// re-serializes it.
func NewBallot(e *ElectionRecord, credential string, choices Plaintext) ([]byte, error) {
	if err := CheckCredential(credential); err != nil {
		return nil, err
	}
	qs := e.Election.Questions
	if err := checkPlaintext(qs, choices); err != nil {
		return nil, err
	}
	g := e.Group
	s := CredentialSecret(g, credential, e.Election.UUID)
	cred := e.secretExpG(s)
	zkp := e.Fingerprint + "|" + cred.Text(10)
	answers := make([]Answer, len(qs))
	for qi, q := range qs {
		m := choices[qi]
		n := len(m)
		rs := make([]*big.Int, n)
		a := Answer{Choices: make([]Ciphertext, n), IndividualProofs: make([][]Proof, n)}
		for i := range m {
			r, err := g.RandomScalar()
			if err != nil {
				return nil, err
			}
			rs[i] = r
			// beta = y^r g^m, g^m by the same constant-time path whether m is 0 or 1.
			beta := e.secretExpY(r)
			beta.Mul(beta, e.secretExpG(big.NewInt(int64(m[i])))).Mod(beta, g.P)
			a.Choices[i] = Ciphertext{Alpha: NewInt(e.secretExpG(r)), Beta: NewInt(beta)}
		}
		for i := range m {
			pd := []proverDisjunct{{R: rs[i], Msg: m[i], M: 0}, {R: rs[i], Msg: m[i], M: 1}}
			p, err := e.orProve(proveIndividualPrefix(zkp, a.Choices[i]), pd, m[i])
			if err != nil {
				return nil, err
			}
			a.IndividualProofs[i] = p
		}
		S := zkp + "|" + ciphertextsText(a.Choices)
		first := 0
		if q.Blank {
			first = 1
		}
		sumR, sumM := new(big.Int), 0
		for i := first; i < n; i++ {
			sumR.Add(sumR, rs[i])
			sumM += m[i]
		}
		sumR.Mod(sumR, g.Q)
		if q.Blank {
			r0, m0 := rs[0], m[0]
			// blank_proof: m0 = 0 or mΣ = 0.
			bd := []proverDisjunct{{R: r0, Msg: m0, M: 0}, {R: sumR, Msg: sumM, M: 0}}
			real := 0
			if m0 == 1 {
				real = 1
			}
			bp, err := e.orProve("bproof0|"+S+"|", bd, real)
			if err != nil {
				return nil, err
			}
			// overall_proof: m0 = 1, or mΣ = min..max.
			od := []proverDisjunct{{R: r0, Msg: m0, M: 1}}
			for k := q.Min; k <= q.Max; k++ {
				od = append(od, proverDisjunct{R: sumR, Msg: sumM, M: k})
			}
			real = 0
			if m0 == 0 {
				real = sumM - q.Min + 1
			}
			op, err := e.orProve("bproof1|"+S+"|", od, real)
			if err != nil {
				return nil, err
			}
			a.OverallProof, a.BlankProof = op, bp
		} else {
			alpha, beta := big.NewInt(1), big.NewInt(1)
			for _, c := range a.Choices {
				alpha.Mul(alpha, c.Alpha.Big()).Mod(alpha, g.P)
				beta.Mul(beta, c.Beta.Big()).Mod(beta, g.P)
			}
			var od []proverDisjunct
			for k := q.Min; k <= q.Max; k++ {
				od = append(od, proverDisjunct{R: sumR, Msg: sumM, M: k})
			}
			prefix := "prove|" + S + "|" + alpha.Text(10) + "," + beta.Text(10) + "|"
			op, err := e.orProve(prefix, od, sumM-q.Min)
			if err != nil {
				return nil, err
			}
			a.OverallProof = op
		}
		answers[qi] = a
	}
	b := Ballot{ElectionUUID: e.Election.UUID, ElectionHash: e.Fingerprint, Credential: NewInt(cred), Answers: answers}
	unsigned, err := Marshal(&b)
	if err != nil {
		return nil, err
	}
	hash := SHA256B64(unsigned)
	sig, err := schnorrProve(g, s, sigPrefix(hash))
	if err != nil {
		return nil, err
	}
	b.Signature = &Signature{Hash: hash, Proof: sig}
	return Marshal(&b)
}

func sigPrefix(hash string) string { return "sig|" + hash + "|" }

// ParseBallot reads a ballot and refuses it unless it is in the canonical form
// belenios-tool writes (Marshal of what was read gives raw back).
func ParseBallot(raw []byte) (*Ballot, error) {
	var b Ballot
	if err := UnmarshalStrict(raw, &b); err != nil {
		return nil, ballotErr(ReasonNotCanonical, "the ballot is not a Belenios ballot")
	}
	if !validBallotShape(&b) {
		return nil, ballotErr(ReasonNotCanonical, "the ballot lacks a field")
	}
	back, err := Marshal(&b)
	if err != nil || !bytes.Equal(back, raw) {
		return nil, ballotErr(ReasonNotCanonical, "the ballot is not in canonical form")
	}
	return &b, nil
}

func validProof(p Proof) bool { return p.Challenge != nil && p.Response != nil }

func validBallotShape(b *Ballot) bool {
	if b.Credential == nil {
		return false
	}
	if b.Signature != nil && !validProof(b.Signature.Proof) {
		return false
	}
	for _, a := range b.Answers {
		for _, c := range a.Choices {
			if c.Alpha == nil || c.Beta == nil {
				return false
			}
		}
		for _, ps := range a.IndividualProofs {
			for _, p := range ps {
				if !validProof(p) {
					return false
				}
			}
		}
		for _, p := range append(append([]Proof(nil), a.OverallProof...), a.BlankProof...) {
			if !validProof(p) {
				return false
			}
		}
	}
	return true
}

// VerifyBallot checks a ballot as belenios-tool's verify does: canonical, for
// this election (uuid and fingerprint), signed by its credential, every proof
// valid. Errors are *BallotError. Whether the credential is one of the
// election's is the caller's check.
func (e *ElectionRecord) VerifyBallot(raw []byte) (*Ballot, error) {
	b, err := ParseBallot(raw)
	if err != nil {
		return nil, err
	}
	if b.ElectionUUID != e.Election.UUID || b.ElectionHash != e.Fingerprint {
		return nil, ballotErr(ReasonWrongElection, "the ballot is for another election")
	}
	qs := e.Election.Questions
	if len(b.Answers) != len(qs) {
		return nil, ballotErr(ReasonWrongElection, "the ballot answers %d questions, the election has %d", len(b.Answers), len(qs))
	}
	g := e.Group
	if b.Signature == nil {
		return nil, ballotErr(ReasonBadSignature, "the ballot is not signed")
	}
	cred := b.Credential.Big()
	// The hash the signature covers: the ballot without its signature, which is
	// the canonical raw bytes up to the signature field.
	unsigned := raw[:bytes.LastIndex(raw, []byte(`,"signature":`))]
	unsigned = append(append([]byte(nil), unsigned...), '}')
	if b.Signature.Hash != SHA256B64(unsigned) {
		return nil, ballotErr(ReasonBadSignature, "the signature is not over this ballot")
	}
	// Shapes first: every answer matches its question.
	for qi, q := range qs {
		a := &b.Answers[qi]
		n := q.slots()
		if len(a.Choices) != n || len(a.IndividualProofs) != n {
			return nil, ballotErr(ReasonBadProof, "question %d: %d encrypted slots expected", qi+1, n)
		}
		for _, p := range a.IndividualProofs {
			if len(p) != 2 {
				return nil, ballotErr(ReasonBadProof, "question %d: an individual proof has 2 parts", qi+1)
			}
		}
		if q.Blank {
			if len(a.BlankProof) != 2 || len(a.OverallProof) != q.Max-q.Min+2 {
				return nil, ballotErr(ReasonBadProof, "question %d: the blank and overall proofs have the wrong size", qi+1)
			}
		} else if a.BlankProof != nil || len(a.OverallProof) != q.Max-q.Min+1 {
			return nil, ballotErr(ReasonBadProof, "question %d: the overall proof has the wrong size", qi+1)
		}
	}
	// The credential, the signature, the ciphertexts' membership and every
	// proof, their exponentiations computed together (fastexp.go).
	sc, sr := b.Signature.Proof.Challenge.Big(), b.Signature.Proof.Response.Big()
	if !g.IsScalar(sc) || !g.IsScalar(sr) {
		return nil, ballotErr(ReasonBadSignature, "the signature does not check")
	}
	e.tables()
	elements, proofs := e.ballotStatements(b)
	pw := newPowers(g)
	credBase := pw.wantMember(cred)
	_, sigPow := pw.want(cred, sc)
	elementBases := make([]int, len(elements))
	for i, x := range elements {
		elementBases[i] = pw.wantMember(x)
	}
	checks, scalarsOK := prepareOr(g, pw, proofs)
	pw.compute()
	if !pw.elementOK(credBase) {
		return nil, ballotErr(ReasonBadSignature, "the signature does not check")
	}
	a := e.gTable.exp(g, sr)
	a.Mul(pw.results[credBase][sigPow], pw.m)
	if g.Hash(sigPrefix(b.Signature.Hash), fromNat(pw.m, a)).Cmp(sc) != 0 {
		return nil, ballotErr(ReasonBadSignature, "the signature does not check")
	}
	for _, eb := range elementBases {
		if !pw.elementOK(eb) {
			return nil, ballotErr(ReasonBadProof, "a ciphertext is not made of group elements")
		}
	}
	if !scalarsOK {
		return nil, ballotErr(ReasonBadProof, "a proof does not check")
	}
	ok := make([]bool, len(checks))
	parallelFor(len(checks), func(i int) { ok[i] = e.verifyOr(pw, &checks[i]) })
	for _, good := range ok {
		if !good {
			return nil, ballotErr(ReasonBadProof, "a proof does not check")
		}
	}
	return b, nil
}

// ballotStatements lists what a ballot's proofs claim: the elements that must
// be in the group and every disjunctive proof, with its hash prefix. The shape
// of b has been checked against the questions.
func (e *ElectionRecord) ballotStatements(b *Ballot) ([]*big.Int, []orProof) {
	g := e.Group
	zkp := e.Fingerprint + "|" + b.Credential.Big().Text(10)
	var elements []*big.Int
	var proofs []orProof
	for qi, q := range e.Election.Questions {
		a := &b.Answers[qi]
		for i, c := range a.Choices {
			alpha, beta := c.Alpha.Big(), c.Beta.Big()
			elements = append(elements, alpha, beta)
			proofs = append(proofs, orProof{
				Prefix:    proveIndividualPrefix(zkp, c),
				Disjuncts: []disjunct{{alpha, beta, 0}, {alpha, beta, 1}},
				Proofs:    a.IndividualProofs[i],
			})
		}
		S := zkp + "|" + ciphertextsText(a.Choices)
		first := 0
		if q.Blank {
			first = 1
		}
		alpha, beta := big.NewInt(1), big.NewInt(1)
		for _, c := range a.Choices[first:] {
			alpha.Mul(alpha, c.Alpha.Big()).Mod(alpha, g.P)
			beta.Mul(beta, c.Beta.Big()).Mod(beta, g.P)
		}
		if q.Blank {
			a0, b0 := a.Choices[0].Alpha.Big(), a.Choices[0].Beta.Big()
			proofs = append(proofs, orProof{
				Prefix:    "bproof0|" + S + "|",
				Disjuncts: []disjunct{{a0, b0, 0}, {alpha, beta, 0}},
				Proofs:    a.BlankProof,
			})
			ds := []disjunct{{a0, b0, 1}}
			for k := q.Min; k <= q.Max; k++ {
				ds = append(ds, disjunct{alpha, beta, k})
			}
			proofs = append(proofs, orProof{Prefix: "bproof1|" + S + "|", Disjuncts: ds, Proofs: a.OverallProof})
		} else {
			var ds []disjunct
			for k := q.Min; k <= q.Max; k++ {
				ds = append(ds, disjunct{alpha, beta, k})
			}
			proofs = append(proofs, orProof{
				Prefix:    "prove|" + S + "|" + alpha.Text(10) + "," + beta.Text(10) + "|",
				Disjuncts: ds,
				Proofs:    a.OverallProof,
			})
		}
	}
	return elements, proofs
}
