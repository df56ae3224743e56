package belenios

import (
	"math/big"
	"runtime"
	"sync"

	"filippo.io/bigmod"
)

// Fast exponentiation for verification. Every value here is public (ballots,
// proofs, keys' public halves); secret exponents go through secretExp only.
//
// Arithmetic is filippo.io/bigmod's (Go's crypto/rsa arithmetic, Montgomery
// multiplication with assembly for 2048-bit moduli), measured faster here than
// math/big for both a 256-bit exponentiation and one modular multiplication.
//
// Three levers, all giving exactly the values of plain exponentiation:
//   - fixed-base tables for g (one per process) and the election key y (one per
//     election): rows[j][d-1] = base^(d·2^(8j)), so base^e is one product of 32
//     table entries instead of ~256 squarings;
//   - shared squaring chains for the other bases: a ciphertext's alpha is raised
//     to Q (the membership test) and to two or more challenges, so its
//     x^(2^(4j)) are computed once and each exponent costs a Yao/Brickell
//     bucket pass (~90 multiplications) instead of a full exponentiation;
//   - independent bases and proofs are computed on all cores.
//
// Subgroup membership is tested element by element (x^Q = 1), never batched:
// P-1 = 2·3·k·Q where k's factors are unknown (none below 2·10^6), so a batched
// test with random small exponents could not be shown sound, and a non-member
// accepted here would make belenios-tool reject the whole board.

// parallelFor runs f(0..n-1) on up to GOMAXPROCS goroutines.
func parallelFor(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

var moduli sync.Map // *Group -> *bigmod.Modulus

func (g *Group) modulus() *bigmod.Modulus {
	if m, ok := moduli.Load(g); ok {
		return m.(*bigmod.Modulus)
	}
	m, err := bigmod.NewModulus(g.P.Bytes())
	if err != nil {
		panic("belenios: bad modulus")
	}
	moduli.Store(g, m)
	return m
}

// toNat is x (0 <= x < P) as a bigmod.Nat.
func toNat(m *bigmod.Modulus, x *big.Int) *bigmod.Nat {
	n, err := bigmod.NewNat().SetBytes(x.Bytes(), m)
	if err != nil {
		panic("belenios: a number is not reduced mod P")
	}
	return n
}

func fromNat(m *bigmod.Modulus, n *bigmod.Nat) *big.Int {
	return new(big.Int).SetBytes(n.Bytes(m))
}

func natOne(m *bigmod.Modulus) *bigmod.Nat {
	return bigmod.NewNat().SetUint(1).ExpandFor(m)
}

// natCopy is a fresh copy of x (reduced mod m): 0 + x.
func natCopy(m *bigmod.Modulus, x *bigmod.Nat) *bigmod.Nat {
	return bigmod.NewNat().ExpandFor(m).Add(x, m)
}

// scalarBytes is e (0 <= e < 2^256) as 32 big-endian bytes.
func scalarBytes(g *Group, e *big.Int) []byte {
	b := make([]byte, (g.Q.BitLen()+7)/8)
	return e.FillBytes(b)
}

// secretExp is base^e mod P for a secret exponent e (credential secrets, trustee
// keys, encryption randomness, proof nonces): bigmod's constant-time
// exponentiation, whose table lookups do not depend on e's bits.
func secretExp(g *Group, base, e *big.Int) *big.Int {
	m := g.modulus()
	return fromNat(m, bigmod.NewNat().Exp(toNat(m, base), scalarBytes(g, e), m))
}

var scalarModuli sync.Map // *Group -> *bigmod.Modulus (Q)

func (g *Group) scalarModulus() *bigmod.Modulus {
	if m, ok := scalarModuli.Load(g); ok {
		return m.(*bigmod.Modulus)
	}
	m, err := bigmod.NewModulus(g.Q.Bytes())
	if err != nil {
		panic("belenios: bad group order")
	}
	v, _ := scalarModuli.LoadOrStore(g, m)
	return v.(*bigmod.Modulus)
}

// secretScalar is v mod Q (v >= 0) as a bigmod.Nat, read from fixed-length
// bytes; v may be secret.
func secretScalar(g *Group, q *bigmod.Modulus, v *big.Int) *bigmod.Nat {
	n, err := bigmod.NewNat().SetOverflowingBytes(scalarBytes(g, v), q)
	if err != nil {
		panic("belenios: a scalar is out of range")
	}
	return n
}

// secretMulAdd is (a + b·c) mod Q and secretMulSub (a - b·c) mod Q, in constant
// time (bigmod) for secret a, b (proof nonces, randomness, keys); c is public.
func secretMulAdd(g *Group, a, b, c *big.Int) *big.Int {
	q := g.scalarModulus()
	x := secretScalar(g, q, b).Mul(secretScalar(g, q, c), q)
	return fromNat(q, x.Add(secretScalar(g, q, a), q))
}

func secretMulSub(g *Group, a, b, c *big.Int) *big.Int {
	q := g.scalarModulus()
	x := secretScalar(g, q, b).Mul(secretScalar(g, q, c), q)
	return fromNat(q, secretScalar(g, q, a).Sub(x, q))
}

func (e *ElectionRecord) secretExpG(x *big.Int) *big.Int { return secretExp(e.Group, e.Group.G, x) }
func (e *ElectionRecord) secretExpY(x *big.Int) *big.Int { return secretExp(e.Group, e.PublicKey, x) }

// fixedBase holds rows[j][d-1] = base^(d·2^(8j)) for the 32 windows of a 256-bit
// exponent: 2 MB, built once (8,160 multiplications).
type fixedBase struct {
	m    *bigmod.Modulus
	rows [][]*bigmod.Nat
}

const fixedWindow = 8

func newFixedBase(g *Group, base *big.Int) *fixedBase {
	m := g.modulus()
	windows := (g.Q.BitLen() + fixedWindow - 1) / fixedWindow
	f := &fixedBase{m: m, rows: make([][]*bigmod.Nat, windows)}
	x := toNat(m, base)
	// x_j = base^(2^(8j)) for every window, then each row on its own core.
	starts := make([]*bigmod.Nat, windows)
	for j := 0; j < windows; j++ {
		starts[j] = natCopy(m, x)
		for k := 0; k < fixedWindow; k++ {
			x.Mul(x, m)
		}
	}
	parallelFor(windows, func(j int) {
		row := make([]*bigmod.Nat, 1<<fixedWindow-1)
		row[0] = starts[j]
		for d := 1; d < len(row); d++ {
			row[d] = natCopy(m, row[d-1]).Mul(starts[j], m)
		}
		f.rows[j] = row
	})
	return f
}

// exp is base^e for a public exponent 0 <= e < 2^256.
func (f *fixedBase) exp(g *Group, e *big.Int) *bigmod.Nat {
	acc := natOne(f.m)
	b := scalarBytes(g, e)
	for j := range f.rows {
		if d := b[len(b)-1-j]; d != 0 {
			acc.Mul(f.rows[j][d-1], f.m)
		}
	}
	return acc
}

var gTables sync.Map // *Group -> *fixedBase

func (g *Group) gTable() *fixedBase {
	if t, ok := gTables.Load(g); ok {
		return t.(*fixedBase)
	}
	t, _ := gTables.LoadOrStore(g, newFixedBase(g, g.G))
	return t.(*fixedBase)
}

// keyTables keeps the tables of the last few election keys, so that parsing the
// same election record again (a runtime may, per request) does not rebuild one.
var keyTables struct {
	sync.Mutex
	byKey map[string]*fixedBase
}

const maxKeyTables = 8

func keyTable(g *Group, y *big.Int) *fixedBase {
	k := g.Name + "|" + y.Text(16)
	keyTables.Lock()
	t, ok := keyTables.byKey[k]
	keyTables.Unlock()
	if ok {
		return t
	}
	t = newFixedBase(g, y)
	keyTables.Lock()
	defer keyTables.Unlock()
	if keyTables.byKey == nil || len(keyTables.byKey) >= maxKeyTables {
		keyTables.byKey = map[string]*fixedBase{}
	}
	keyTables.byKey[k] = t
	return t
}

// tables finds or builds the election key's table (once per election record).
func (e *ElectionRecord) tables() {
	e.tablesOnce.Do(func() {
		e.gTable = e.Group.gTable()
		e.yTable = keyTable(e.Group, e.PublicKey)
	})
}

// chainWindow is the digit size of the shared chains.
const chainWindow = 4

// chainFrom is the number of exponents of one base from which a shared chain
// costs less than separate exponentiations: a chain is ~252 squarings and ~90
// multiplications per exponent, each (bigmod.Nat.Mul) two Montgomery
// multiplications, against ~340 for one bigmod.Nat.Exp.
const chainFrom = 4

// chainPowers are x^(2^(4j)) for the 64 nibbles of a 256-bit exponent.
func chainPowers(g *Group, m *bigmod.Modulus, x *big.Int) []*bigmod.Nat {
	n := (g.Q.BitLen() + chainWindow - 1) / chainWindow
	pows := make([]*bigmod.Nat, n)
	cur := toNat(m, x)
	for j := 0; j < n; j++ {
		pows[j] = natCopy(m, cur)
		if j+1 < n {
			for k := 0; k < chainWindow; k++ {
				cur.Mul(cur, m)
			}
		}
	}
	return pows
}

// chainExp is x^e from x's chain by Yao's method, as Brickell et al. arrange
// it: the chain entries are gathered into one bucket per digit value d, then the
// product of bucket_d^d is formed with two multiplications per d.
func chainExp(g *Group, m *bigmod.Modulus, pows []*bigmod.Nat, e *big.Int) *bigmod.Nat {
	var buckets [1 << chainWindow]*bigmod.Nat
	b := scalarBytes(g, e)
	for j := range pows {
		byt := b[len(b)-1-j/2]
		d := byt & 0x0f
		if j%2 == 1 {
			d = byt >> 4
		}
		if d == 0 {
			continue
		}
		if buckets[d] == nil {
			buckets[d] = natCopy(m, pows[j])
		} else {
			buckets[d].Mul(pows[j], m)
		}
	}
	var acc, run *bigmod.Nat
	for d := len(buckets) - 1; d >= 1; d-- {
		if buckets[d] != nil {
			if run == nil {
				run = buckets[d]
			} else {
				run.Mul(buckets[d], m)
			}
		}
		if run != nil {
			if acc == nil {
				acc = natCopy(m, run)
			} else {
				acc.Mul(run, m)
			}
		}
	}
	if acc == nil {
		return natOne(m)
	}
	return acc
}

// powers computes, for public bases, the powers asked of each (and whether each
// base is a group element, for the bases that asked), one base per core at a
// time: bigmod.Nat.Exp per exponent, or one shared chain for a base with
// chainFrom exponents or more.
type powers struct {
	g      *Group
	m      *bigmod.Modulus
	bases  []*big.Int
	index  map[*big.Int]int
	exps   [][]*big.Int
	member []bool

	results [][]*bigmod.Nat
	isElem  []bool
}

func newPowers(g *Group) *powers {
	return &powers{g: g, m: g.modulus(), index: map[*big.Int]int{}}
}

func (p *powers) base(x *big.Int) int {
	if i, ok := p.index[x]; ok {
		return i
	}
	p.index[x] = len(p.bases)
	p.bases = append(p.bases, x)
	p.exps = append(p.exps, nil)
	p.member = append(p.member, false)
	return len(p.bases) - 1
}

// want asks for x^e (0 <= e < 2^256); the answer is p.results[b][k].
func (p *powers) want(x, e *big.Int) (b, k int) {
	b = p.base(x)
	p.exps[b] = append(p.exps[b], e)
	return b, len(p.exps[b]) - 1
}

// wantMember asks whether x is a group element (0 <= x < P, x^Q = 1).
func (p *powers) wantMember(x *big.Int) int {
	b := p.base(x)
	p.member[b] = true
	return b
}

func (p *powers) compute() {
	p.results = make([][]*bigmod.Nat, len(p.bases))
	p.isElem = make([]bool, len(p.bases))
	parallelFor(len(p.bases), func(b int) {
		x := p.bases[b]
		if x.Sign() < 0 || x.Cmp(p.g.P) >= 0 {
			return // not an element; its powers are never used
		}
		exps := p.exps[b]
		if p.member[b] {
			exps = append(exps[:len(exps):len(exps)], p.g.Q)
		}
		out := make([]*bigmod.Nat, len(exps))
		if len(exps) < chainFrom {
			xn := toNat(p.m, x)
			for k, e := range exps {
				out[k] = bigmod.NewNat().Exp(xn, e.Bytes(), p.m)
			}
		} else {
			pows := chainPowers(p.g, p.m, x)
			for k, e := range exps {
				out[k] = chainExp(p.g, p.m, pows, e)
			}
		}
		if p.member[b] {
			p.isElem[b] = out[len(out)-1].IsOne() == 1
		}
		p.results[b] = out[:len(p.exps[b])]
	})
}

func (p *powers) elementOK(b int) bool { return p.isElem[b] }
