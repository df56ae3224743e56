package belenios

import (
	"errors"
	"fmt"
	"math"
	"math/big"

	"filippo.io/bigmod"
)

// Tally accumulates the counted ballots' ciphertexts: per question, per slot
// (the blank slot first), the product of the choices raised to the ballots'
// weights. Add is not safe for concurrent use; AddAll spreads a batch over the
// cores. The products are kept in bigmod's representation (one Montgomery
// multiplication pair per slot, no division).
type Tally struct {
	e     *ElectionRecord
	m     *bigmod.Modulus
	alpha [][]*bigmod.Nat
	beta  [][]*bigmod.Nat
	count int
	total int64
}

// NewTally is the empty tally of the election: every slot encrypts 0 with
// randomness 0, (1, 1).
func NewTally(e *ElectionRecord) *Tally {
	t := &Tally{e: e, m: e.Group.modulus()}
	for _, q := range e.Election.Questions {
		a, b := make([]*bigmod.Nat, q.slots()), make([]*bigmod.Nat, q.slots())
		for i := range a {
			a[i], b[i] = natOne(t.m), natOne(t.m)
		}
		t.alpha, t.beta = append(t.alpha, a), append(t.beta, b)
	}
	return t
}

// Add counts a ballot of this election that VerifyBallot accepted, with its
// weight (> 0).
func (t *Tally) Add(b *Ballot, weight int64) {
	var w []byte
	if weight != 1 {
		w = big.NewInt(weight).Bytes()
	}
	for qi := range t.alpha {
		for i, c := range b.Answers[qi].Choices {
			alpha, beta := toNat(t.m, c.Alpha.Big()), toNat(t.m, c.Beta.Big())
			if w != nil {
				alpha = bigmod.NewNat().Exp(alpha, w, t.m)
				beta = bigmod.NewNat().Exp(beta, w, t.m)
			}
			t.alpha[qi][i].Mul(alpha, t.m)
			t.beta[qi][i].Mul(beta, t.m)
		}
	}
	t.count++
	t.total += weight
}

// AddAll counts verified ballots with their weights, the work shared among the
// cores; the result is the same as Add on each in turn.
func (t *Tally) AddAll(bs []*Ballot, weights []int64) {
	const chunk = 512
	n := (len(bs) + chunk - 1) / chunk
	parts := make([]*Tally, n)
	parallelFor(n, func(k int) {
		part := NewTally(t.e)
		for i := k * chunk; i < len(bs) && i < (k+1)*chunk; i++ {
			part.Add(bs[i], weights[i])
		}
		parts[k] = part
	})
	for _, part := range parts {
		t.merge(part)
	}
}

func (t *Tally) merge(o *Tally) {
	for qi := range t.alpha {
		for i := range t.alpha[qi] {
			t.alpha[qi][i].Mul(o.alpha[qi][i], t.m)
			t.beta[qi][i].Mul(o.beta[qi][i], t.m)
		}
	}
	t.count += o.count
	t.total += o.total
}

// Encrypted is the encrypted tally record.
func (t *Tally) Encrypted() EncryptedTally {
	et := make(EncryptedTally, len(t.alpha))
	for qi := range t.alpha {
		et[qi] = make([]Ciphertext, len(t.alpha[qi]))
		for i := range t.alpha[qi] {
			et[qi][i] = Ciphertext{Alpha: NewInt(fromNat(t.m, t.alpha[qi][i])), Beta: NewInt(fromNat(t.m, t.beta[qi][i]))}
		}
	}
	return et
}

// Count is the number of ballots added.
func (t *Tally) Count() int { return t.count }

// TotalWeight is the sum of their weights.
func (t *Tally) TotalWeight() int64 { return t.total }

// checkTallyShape checks et has the election's questions and slots, made of
// group elements.
func checkTallyShape(e *ElectionRecord, et EncryptedTally) error {
	qs := e.Election.Questions
	if len(et) != len(qs) {
		return fmt.Errorf("the encrypted tally has %d questions, the election %d", len(et), len(qs))
	}
	var xs []*big.Int
	for qi, q := range qs {
		if len(et[qi]) != q.slots() {
			return fmt.Errorf("question %d of the encrypted tally has %d slots, want %d", qi+1, len(et[qi]), q.slots())
		}
		for _, c := range et[qi] {
			if c.Alpha == nil || c.Beta == nil {
				return errors.New("the encrypted tally lacks a number")
			}
			xs = append(xs, c.Alpha.Big(), c.Beta.Big())
		}
	}
	bad := make([]bool, len(xs))
	parallelFor(len(xs), func(i int) { bad[i] = !e.Group.IsElement(xs[i]) })
	for _, b := range bad {
		if b {
			return errors.New("the encrypted tally holds a number outside the group")
		}
	}
	return nil
}

func decryptPrefix(e *ElectionRecord, X *big.Int) string {
	return "decrypt|" + e.Fingerprint + "|" + X.Text(10) + "|"
}

// PartialDecrypt is the trustee with private key x's share of the decryption
// of et: per slot the factor alpha^x with a proof (Chaum-Pedersen) that it uses
// the same x as the public key g^x.
func PartialDecrypt(e *ElectionRecord, x *big.Int, et EncryptedTally) (*PartialDecryption, error) {
	g := e.Group
	if !g.IsScalar(x) || x.Sign() == 0 {
		return nil, errors.New("a trustee's private key must be in [1, Q)")
	}
	if err := checkTallyShape(e, et); err != nil {
		return nil, err
	}
	prefix := decryptPrefix(e, secretExp(g, g.G, x))
	type job struct{ qi, i int }
	var jobs []job
	pd := &PartialDecryption{
		DecryptionFactors: make([][]*Int, len(et)),
		DecryptionProofs:  make([][]Proof, len(et)),
	}
	for qi := range et {
		pd.DecryptionFactors[qi] = make([]*Int, len(et[qi]))
		pd.DecryptionProofs[qi] = make([]Proof, len(et[qi]))
		for i := range et[qi] {
			jobs = append(jobs, job{qi, i})
		}
	}
	errs := make([]error, len(jobs))
	parallelFor(len(jobs), func(k int) {
		j := jobs[k]
		alpha := et[j.qi][j.i].Alpha.Big()
		w, err := g.RandomScalar()
		if err != nil {
			errs[k] = err
			return
		}
		c := g.Hash(prefix, secretExp(g, g.G, w), secretExp(g, alpha, w))
		r := secretMulSub(g, w, x, c)
		pd.DecryptionFactors[j.qi][j.i] = NewInt(secretExp(g, alpha, x))
		pd.DecryptionProofs[j.qi][j.i] = Proof{Challenge: NewInt(c), Response: NewInt(r)}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return pd, nil
}

// VerifyPartialDecryption checks a partial decryption of et by the trustee whose
// public (or verification) key is X: the shape matches, every factor is a group
// element and every proof checks.
func VerifyPartialDecryption(e *ElectionRecord, X *big.Int, et EncryptedTally, pd *PartialDecryption) error {
	g := e.Group
	if X == nil || !g.IsElement(X) {
		return errors.New("the trustee's key is not an element of the group")
	}
	if err := checkTallyShape(e, et); err != nil {
		return err
	}
	if pd == nil || len(pd.DecryptionFactors) != len(et) || len(pd.DecryptionProofs) != len(et) {
		return errors.New("the partial decryption does not match the encrypted tally")
	}
	type job struct{ qi, i int }
	var jobs []job
	for qi := range et {
		if len(pd.DecryptionFactors[qi]) != len(et[qi]) || len(pd.DecryptionProofs[qi]) != len(et[qi]) {
			return errors.New("the partial decryption does not match the encrypted tally")
		}
		for i := range et[qi] {
			jobs = append(jobs, job{qi, i})
		}
	}
	prefix := decryptPrefix(e, X)
	ok := make([]bool, len(jobs))
	parallelFor(len(jobs), func(k int) {
		j := jobs[k]
		f := pd.DecryptionFactors[j.qi][j.i]
		p := pd.DecryptionProofs[j.qi][j.i]
		if f == nil || p.Challenge == nil || p.Response == nil {
			return
		}
		c, r := p.Challenge.Big(), p.Response.Big()
		if !g.IsScalar(c) || !g.IsScalar(r) || !g.IsElement(f.Big()) {
			return
		}
		alpha := et[j.qi][j.i].Alpha.Big()
		a := new(big.Int).Exp(g.G, r, g.P)
		a.Mul(a, new(big.Int).Exp(X, c, g.P)).Mod(a, g.P)
		b := new(big.Int).Exp(alpha, r, g.P)
		b.Mul(b, new(big.Int).Exp(f.Big(), c, g.P)).Mod(b, g.P)
		ok[k] = g.Hash(prefix, a, b).Cmp(c) == 0
	})
	for k, good := range ok {
		if !good {
			return fmt.Errorf("the decryption proof of question %d, slot %d does not check", jobs[k].qi+1, jobs[k].i+1)
		}
	}
	return nil
}

// maxBabySteps bounds the discrete logarithm's table (16 MB at most).
const maxBabySteps = 1 << 16

// DecodeResult decrypts et with the combined decryption factors (per slot, the
// product of the trustees' factors, Lagrange-weighted for a threshold) and finds
// each count as the discrete logarithm of beta/factor in [0, totalWeight], by
// baby-step giant-step with a table of at most 65,536 entries.
func DecodeResult(e *ElectionRecord, et EncryptedTally, factors [][]*big.Int, totalWeight int64) (*Result, error) {
	g := e.Group
	if totalWeight < 0 || totalWeight == math.MaxInt64 {
		return nil, errors.New("the total weight is out of range")
	}
	if err := checkTallyShape(e, et); err != nil {
		return nil, err
	}
	if len(factors) != len(et) {
		return nil, errors.New("the decryption factors do not match the encrypted tally")
	}
	type job struct{ qi, i int }
	var jobs []job
	res := &Result{Result: make([][]int64, len(et))}
	targets := make([][]*big.Int, len(et))
	for qi := range et {
		if len(factors[qi]) != len(et[qi]) {
			return nil, errors.New("the decryption factors do not match the encrypted tally")
		}
		res.Result[qi] = make([]int64, len(et[qi]))
		targets[qi] = make([]*big.Int, len(et[qi]))
		for i, c := range et[qi] {
			f := factors[qi][i]
			if f == nil || f.Sign() <= 0 || f.Cmp(g.P) >= 0 {
				return nil, errors.New("a decryption factor is out of range")
			}
			inv := new(big.Int).ModInverse(f, g.P)
			if inv == nil {
				return nil, errors.New("a decryption factor is not invertible")
			}
			targets[qi][i] = inv.Mul(inv, c.Beta.Big()).Mod(inv, g.P)
			jobs = append(jobs, job{qi, i})
		}
	}
	dl := newDiscreteLog(g, totalWeight)
	found := make([]bool, len(jobs))
	parallelFor(len(jobs), func(k int) {
		j := jobs[k]
		res.Result[j.qi][j.i], found[k] = dl.log(targets[j.qi][j.i])
	})
	for k, ok := range found {
		if !ok {
			return nil, fmt.Errorf("question %d, slot %d: the decryption is not g^k for any k up to the total weight %d", jobs[k].qi+1, jobs[k].i+1, totalWeight)
		}
	}
	return res, nil
}

// discreteLog finds k in [0, max] with g^k = h: baby steps g^j for j < m kept
// in a table, giant steps h g^(-m i).
type discreteLog struct {
	g     *Group
	max   int64
	m     int64
	baby  map[string]int64
	giant *big.Int // g^-m
}

func newDiscreteLog(g *Group, max int64) *discreteLog {
	m := int64(math.Sqrt(float64(max))) + 1
	if m > maxBabySteps {
		m = maxBabySteps
	}
	d := &discreteLog{g: g, max: max, m: m, baby: make(map[string]int64, m)}
	x := big.NewInt(1)
	for j := int64(0); j < m; j++ {
		d.baby[string(x.Bytes())] = j
		x = new(big.Int).Mul(x, g.G)
		x.Mod(x, g.P)
	}
	// x = g^m now.
	d.giant = x.ModInverse(x, g.P)
	return d
}

func (d *discreteLog) log(h *big.Int) (int64, bool) {
	y := new(big.Int).Set(h)
	for i := int64(0); i*d.m <= d.max; i++ {
		if j, ok := d.baby[string(y.Bytes())]; ok {
			if k := i*d.m + j; k <= d.max {
				return k, true
			}
			return 0, false
		}
		y.Mul(y, d.giant).Mod(y, d.g.P)
	}
	return 0, false
}
