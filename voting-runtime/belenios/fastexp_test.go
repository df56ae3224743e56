package belenios

import (
	"errors"
	"math/big"
	"testing"
)

// benchElection is an election with the compatibility notes' two questions, made
// in-process (no belenios-tool), and one voter's credential.
func benchElection(tb testing.TB) (*ElectionRecord, string) {
	tb.Helper()
	g := Belenios2048()
	_, pub, err := NewTrusteeKey(g)
	if err != nil {
		tb.Fatal(err)
	}
	uuid, err := NewUUID()
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := NewElectionRecord(uuid, "bench", "", testQuestions(), pub.PublicKey.Big())
	if err != nil {
		tb.Fatal(err)
	}
	e, err := ParseElection(raw)
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := NewCredential()
	if err != nil {
		tb.Fatal(err)
	}
	return e, cred
}

// BenchmarkVerifyBallot2Questions is one VerifyBallot of a ballot of the
// compatibility notes' 2-question election (7 encrypted slots, one blank
// question), the election's tables already built.
func BenchmarkVerifyBallot2Questions(b *testing.B) {
	e, cred := benchElection(b)
	raw, err := NewBallot(e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.VerifyBallot(raw); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.VerifyBallot(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewBallot is one NewBallot for the same election.
func BenchmarkNewBallot(b *testing.B) {
	e, cred := benchElection(b)
	if _, err := NewBallot(e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := NewBallot(e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}}); err != nil {
			b.Fatal(err)
		}
	}
}

// plainVerifyBallot is VerifyBallot written straight from the specification
// with math/big's Exp for every power: the reference the fast path must agree
// with. It returns the reason ("" when the ballot is valid).
func plainVerifyBallot(e *ElectionRecord, raw []byte) string {
	g := e.Group
	exp := func(b, x *big.Int) *big.Int { return new(big.Int).Exp(b, x, g.P) }
	mul := func(a, b *big.Int) *big.Int { return new(big.Int).Mod(new(big.Int).Mul(a, b), g.P) }
	b, err := ParseBallot(raw)
	if err != nil {
		return ReasonNotCanonical
	}
	if b.ElectionUUID != e.Election.UUID || b.ElectionHash != e.Fingerprint || len(b.Answers) != len(e.Election.Questions) {
		return ReasonWrongElection
	}
	if b.Signature == nil {
		return ReasonBadSignature
	}
	unsigned := *b
	unsigned.Signature = nil
	u, _ := Marshal(&unsigned)
	if SHA256B64(u) != b.Signature.Hash {
		return ReasonBadSignature
	}
	for qi, q := range e.Election.Questions {
		a := b.Answers[qi]
		if len(a.Choices) != q.slots() || len(a.IndividualProofs) != q.slots() {
			return ReasonBadProof
		}
		for _, p := range a.IndividualProofs {
			if len(p) != 2 {
				return ReasonBadProof
			}
		}
		if q.Blank && (len(a.BlankProof) != 2 || len(a.OverallProof) != q.Max-q.Min+2) || !q.Blank && (a.BlankProof != nil || len(a.OverallProof) != q.Max-q.Min+1) {
			return ReasonBadProof
		}
	}
	cred := b.Credential.Big()
	sc, sr := b.Signature.Proof.Challenge.Big(), b.Signature.Proof.Response.Big()
	if !g.IsElement(cred) || !g.IsScalar(sc) || !g.IsScalar(sr) ||
		g.Hash(sigPrefix(b.Signature.Hash), mul(exp(g.G, sr), exp(cred, sc))).Cmp(sc) != 0 {
		return ReasonBadSignature
	}
	elements, proofs := e.ballotStatements(b)
	for _, x := range elements {
		if !g.IsElement(x) {
			return ReasonBadProof
		}
	}
	for _, p := range proofs {
		var cs []*big.Int
		sum := new(big.Int)
		for k, d := range p.Disjuncts {
			c, s := p.Proofs[k].Challenge.Big(), p.Proofs[k].Response.Big()
			if !g.IsScalar(c) || !g.IsScalar(s) {
				return ReasonBadProof
			}
			gm := exp(g.G, new(big.Int).Mod(big.NewInt(int64(-d.M)), g.Q))
			cs = append(cs, mul(exp(g.G, s), exp(d.Alpha, c)), mul(exp(e.PublicKey, s), exp(mul(d.Beta, gm), c)))
			sum.Add(sum, c)
		}
		if g.Hash(p.Prefix, cs...).Cmp(sum.Mod(sum, g.Q)) != 0 {
			return ReasonBadProof
		}
	}
	return ""
}

func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	var be *BallotError
	if errors.As(err, &be) {
		return be.Reason
	}
	return "not a BallotError: " + err.Error()
}

// TestFastVerificationAgreesWithThePlainPath: on valid ballots (ours and
// tampered variants of every kind) VerifyBallot gives the plain path's verdict,
// and the fixed-base tables and chains give math/big's powers.
func TestFastVerificationAgreesWithThePlainPath(t *testing.T) {
	e, cred := benchElection(t)
	g := e.Group
	good := mustBallot(t, e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}})
	blank := mustBallot(t, e, cred, Plaintext{{1, 0, 0, 0}, {0, 1, 1}})
	variants := [][]byte{good, blank}
	for i := 0; i < 6; i++ {
		b := parsed(t, good)
		switch i {
		case 0:
			b.Answers[0].IndividualProofs[3][1].Challenge = addOne(b.Answers[0].IndividualProofs[3][1].Challenge)
		case 1:
			b.Answers[1].Choices[2].Alpha = addOne(b.Answers[1].Choices[2].Alpha)
		case 2:
			b.Answers[0].OverallProof[1].Response = addOne(b.Answers[0].OverallProof[1].Response)
		case 3:
			b.Answers[0].BlankProof[0].Response = addOne(b.Answers[0].BlankProof[0].Response)
		case 4:
			b.Answers[1].Choices[0].Beta = NewInt(new(big.Int).Set(g.P))
		case 5:
			b.Answers[1].OverallProof[1].Challenge = NewInt(new(big.Int).Lsh(big.NewInt(1), 300))
		}
		variants = append(variants, resign(t, e, b, cred))
	}
	sig := parsed(t, good)
	sig.Signature.Proof.Challenge = addOne(sig.Signature.Proof.Challenge)
	raw, _ := Marshal(sig)
	variants = append(variants, raw)
	for i, raw := range variants {
		_, err := e.VerifyBallot(raw)
		if got, want := reasonOf(err), plainVerifyBallot(e, raw); got != want {
			t.Errorf("variant %d: fast path %q, plain path %q", i, got, want)
		}
	}
	if reasonOf(func() error { _, err := e.VerifyBallot(good); return err }()) != "" {
		t.Fatal("the good ballot was refused")
	}
	e.tables()
	m := g.modulus()
	for _, x := range []*big.Int{big.NewInt(0), big.NewInt(1), big.NewInt(255), big.NewInt(256), new(big.Int).Sub(g.Q, big.NewInt(1)), new(big.Int).Lsh(big.NewInt(1), 255)} {
		if fromNat(m, e.gTable.exp(g, x)).Cmp(new(big.Int).Exp(g.G, x, g.P)) != 0 {
			t.Fatalf("g's table differs from math/big for %v", x)
		}
		if fromNat(m, e.yTable.exp(g, x)).Cmp(new(big.Int).Exp(e.PublicKey, x, g.P)) != 0 {
			t.Fatalf("y's table differs from math/big for %v", x)
		}
		base := g.Exp(big.NewInt(987654321))
		if fromNat(m, chainExp(g, m, chainPowers(g, m, base), x)).Cmp(new(big.Int).Exp(base, x, g.P)) != 0 {
			t.Fatalf("the chain differs from math/big for %v", x)
		}
	}
	for i := 0; i < 20; i++ {
		x, _ := g.RandomScalar()
		base := g.Exp(x)
		if fromNat(m, chainExp(g, m, chainPowers(g, m, base), x)).Cmp(new(big.Int).Exp(base, x, g.P)) != 0 {
			t.Fatal("the chain differs from math/big for a random exponent")
		}
		if fromNat(m, e.gTable.exp(g, x)).Cmp(g.Exp(x)) != 0 || secretExp(g, base, x).Cmp(new(big.Int).Exp(base, x, g.P)) != 0 {
			t.Fatal("a table or secretExp differs from math/big for a random exponent")
		}
	}
}

// BenchmarkPlainVerifyBallot2Questions is the reference path (math/big's Exp
// for every power, one core) on the same ballot, for comparison.
func BenchmarkPlainVerifyBallot2Questions(b *testing.B) {
	e, cred := benchElection(b)
	raw, err := NewBallot(e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := plainVerifyBallot(e, raw); r != "" {
			b.Fatal(r)
		}
	}
}

// TestElectionKeyTableIsSharedAcrossParses: parsing the same election record
// again reuses its key's table instead of building a new one.
func TestElectionKeyTableIsSharedAcrossParses(t *testing.T) {
	e, _ := benchElection(t)
	e.tables()
	again, err := ParseElection(e.Raw)
	if err != nil {
		t.Fatal(err)
	}
	again.tables()
	if again.yTable != e.yTable {
		t.Fatal("a second parse of the same record built a second table")
	}
	other, _ := benchElection(t)
	other.tables()
	if other.yTable == e.yTable {
		t.Fatal("two election keys share a table")
	}
}

// TestVerifyBallotConcurrently: goroutines verifying ballots of one fresh
// election at once (the first ones build its table) all get the right verdict.
func TestVerifyBallotConcurrently(t *testing.T) {
	e, cred := benchElection(t)
	good := mustBallot(t, e, cred, Plaintext{{0, 0, 1, 0}, {0, 1, 1}})
	b := parsed(t, good)
	b.Answers[1].IndividualProofs[0][0].Response = addOne(b.Answers[1].IndividualProofs[0][0].Response)
	bad := resign(t, e, b, cred)
	fresh, err := ParseElection(e.Raw)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			raw, want := good, ""
			if i%2 == 1 {
				raw, want = bad, ReasonBadProof
			}
			_, err := fresh.VerifyBallot(raw)
			if got := reasonOf(err); got != want {
				errs <- "goroutine got " + got + ", want " + want
				return
			}
			errs <- ""
		}(i)
	}
	for i := 0; i < 8; i++ {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

// TestSecretScalarArithmeticAgreesWithMathBig: the constant-time (a ± b·c) mod Q
// the provers use equals math/big's, at the bounds and at random.
func TestSecretScalarArithmeticAgreesWithMathBig(t *testing.T) {
	g := Belenios2048()
	qm1 := new(big.Int).Sub(g.Q, big.NewInt(1))
	vals := []*big.Int{big.NewInt(0), big.NewInt(1), qm1}
	for i := 0; i < 30; i++ {
		x, _ := g.RandomScalar()
		vals = append(vals, x)
	}
	for i, a := range vals {
		b, c := vals[(i+1)%len(vals)], vals[(i*5+2)%len(vals)]
		bc := new(big.Int).Mul(b, c)
		add := new(big.Int).Add(a, bc)
		sub := new(big.Int).Sub(a, bc)
		if secretMulAdd(g, a, b, c).Cmp(add.Mod(add, g.Q)) != 0 || secretMulSub(g, a, b, c).Cmp(sub.Mod(sub, g.Q)) != 0 {
			t.Fatalf("values %d: constant-time scalar arithmetic differs from math/big", i)
		}
	}
}
