package belenios

import (
	"errors"
	"math/big"
)

// A disjunct is one alternative of a disjunctive Chaum-Pedersen proof: the
// ciphertext (Alpha, Beta) encrypts M, i.e. Alpha = g^r and Beta = y^r g^M.
type disjunct struct {
	Alpha, Beta *big.Int
	M           int
}

// orProof is a disjunctive proof to check: one of the disjuncts holds, the
// commitments of all of them hashed after Prefix give the sum of the challenges.
type orProof struct {
	Prefix    string
	Disjuncts []disjunct
	Proofs    []Proof
}

// proverDisjunct is what the prover knows of one disjunct: the randomness R and
// the plaintext Msg of its ciphertext, and the claimed M.
type proverDisjunct struct {
	R   *big.Int
	Msg int
	M   int
}

// orProve proves that disjunct real holds (Msg == M there). The commitments of
// the simulated disjuncts are g^(s+rc) and y^(s+rc) g^((Msg-M)c), which equal
// what the verifier computes from (alpha, beta); the real one is (g^w, y^w).
func (e *ElectionRecord) orProve(prefix string, ds []proverDisjunct, real int) ([]Proof, error) {
	g := e.Group
	proofs := make([]Proof, len(ds))
	commitments := make([]*big.Int, 2*len(ds))
	sum := new(big.Int)
	for i, d := range ds {
		if i == real {
			continue
		}
		c, err := g.RandomScalar()
		if err != nil {
			return nil, err
		}
		s, err := g.RandomScalar()
		if err != nil {
			return nil, err
		}
		// B = y^u g^((Msg-M)c), the second factor computed even when it is 1.
		u := secretMulAdd(g, s, d.R, c)
		commitments[2*i] = e.secretExpG(u)
		b := e.secretExpY(u)
		k := secretMulAdd(g, new(big.Int), new(big.Int).Mod(big.NewInt(int64(d.Msg-d.M)), g.Q), c)
		b.Mul(b, e.secretExpG(k)).Mod(b, g.P)
		commitments[2*i+1] = b
		proofs[i] = Proof{Challenge: NewInt(c), Response: NewInt(s)}
		sum.Add(sum, c)
	}
	w, err := g.RandomScalar()
	if err != nil {
		return nil, err
	}
	commitments[2*real] = e.secretExpG(w)
	commitments[2*real+1] = e.secretExpY(w)
	c := g.Hash(prefix, commitments...)
	c.Sub(c, sum).Mod(c, g.Q)
	r := secretMulSub(g, w, ds[real].R, c)
	proofs[real] = Proof{Challenge: NewInt(c), Response: NewInt(r)}
	return proofs, nil
}

// orCheck is a disjunctive proof with the powers its commitments need.
type orCheck struct {
	p    *orProof
	a, b [][2]int // per disjunct: where alpha^c and beta^c are in the powers
}

// prepareOr asks pw for the powers the proofs need; false when a challenge or a
// response is not a scalar (or the proof has the wrong size).
func prepareOr(g *Group, pw *powers, proofs []orProof) ([]orCheck, bool) {
	checks := make([]orCheck, len(proofs))
	for i := range proofs {
		p := &proofs[i]
		if len(p.Proofs) != len(p.Disjuncts) || len(p.Proofs) == 0 {
			return nil, false
		}
		ch := orCheck{p: p, a: make([][2]int, len(p.Disjuncts)), b: make([][2]int, len(p.Disjuncts))}
		for k, d := range p.Disjuncts {
			c, s := p.Proofs[k].Challenge.Big(), p.Proofs[k].Response.Big()
			if !g.IsScalar(c) || !g.IsScalar(s) {
				return nil, false
			}
			ch.a[k][0], ch.a[k][1] = pw.want(d.Alpha, c)
			ch.b[k][0], ch.b[k][1] = pw.want(d.Beta, c)
		}
		checks[i] = ch
	}
	return checks, true
}

// verifyOr checks a prepared disjunctive proof once pw is computed: the hash of
// the commitments g^s alpha^c, y^s (beta g^-M)^c is the sum of the challenges
// mod Q.
func (e *ElectionRecord) verifyOr(pw *powers, ch *orCheck) bool {
	g, m := e.Group, pw.m
	commitments := make([]*big.Int, 2*len(ch.p.Disjuncts))
	sum := new(big.Int)
	for k, d := range ch.p.Disjuncts {
		c, s := ch.p.Proofs[k].Challenge.Big(), ch.p.Proofs[k].Response.Big()
		a := e.gTable.exp(g, s)
		a.Mul(pw.results[ch.a[k][0]][ch.a[k][1]], m)
		b := e.yTable.exp(g, s)
		b.Mul(pw.results[ch.b[k][0]][ch.b[k][1]], m)
		if d.M != 0 {
			x := new(big.Int).Mul(big.NewInt(int64(-d.M)), c)
			b.Mul(e.gTable.exp(g, x.Mod(x, g.Q)), m)
		}
		commitments[2*k], commitments[2*k+1] = fromNat(m, a), fromNat(m, b)
		sum.Add(sum, c)
	}
	return g.Hash(ch.p.Prefix, commitments...).Cmp(sum.Mod(sum, g.Q)) == 0
}

// schnorrProve proves knowledge of x with X = g^x: w random, A = g^w,
// c = Hash(prefix, A), r = w - x c mod Q.
func schnorrProve(g *Group, x *big.Int, prefix string) (Proof, error) {
	w, err := g.RandomScalar()
	if err != nil {
		return Proof{}, err
	}
	c := g.Hash(prefix, secretExp(g, g.G, w))
	r := secretMulSub(g, w, x, c)
	return Proof{Challenge: NewInt(c), Response: NewInt(r)}, nil
}

// schnorrVerify checks a Schnorr proof for X: c == Hash(prefix, g^r X^c).
func schnorrVerify(g *Group, X *big.Int, prefix string, p Proof) bool {
	c, r := p.Challenge.Big(), p.Response.Big()
	if !g.IsScalar(c) || !g.IsScalar(r) {
		return false
	}
	a := new(big.Int).Exp(g.G, r, g.P)
	a.Mul(a, new(big.Int).Exp(X, c, g.P)).Mod(a, g.P)
	return g.Hash(prefix, a).Cmp(c) == 0
}

// pokPrefix is the prefix of a trustee's proof of knowledge of its key.
func pokPrefix(g *Group, X *big.Int) string {
	return "pok|" + g.Name + "|" + X.Text(10) + "|"
}

var errBadPoK = errors.New("the trustee's proof of knowledge of its private key does not check")
