package belenios

import (
	"math/big"
	"runtime"
	"sync"

	"filippo.io/bigmod"
)

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

// secretExp is base^e mod P for a secret exponent e (credential secrets, trustee
// keys, encryption randomness, proof nonces): filippo.io/bigmod's constant-time
// exponentiation, whose table lookups do not depend on e's bits.
func secretExp(g *Group, base, e *big.Int) *big.Int {
	m := g.modulus()
	b, err := bigmod.NewNat().SetBytes(base.Bytes(), m)
	if err != nil {
		panic("belenios: a base is not reduced mod P")
	}
	eb := make([]byte, (g.Q.BitLen()+7)/8)
	e.FillBytes(eb)
	return new(big.Int).SetBytes(bigmod.NewNat().Exp(b, eb, m).Bytes(m))
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

func (e *ElectionRecord) secretExpG(x *big.Int) *big.Int { return secretExp(e.Group, e.Group.G, x) }
func (e *ElectionRecord) secretExpY(x *big.Int) *big.Int { return secretExp(e.Group, e.PublicKey, x) }

// fixedBase computes powers of one public base with public exponents.
type fixedBase struct {
	g    *Group
	base *big.Int
}

func (f *fixedBase) exp(x *big.Int) *big.Int { return new(big.Int).Exp(f.base, x, f.g.P) }

func (e *ElectionRecord) tables() {
	e.tablesOnce.Do(func() {
		e.gTable = &fixedBase{g: e.Group, base: e.Group.G}
		e.yTable = &fixedBase{g: e.Group, base: e.PublicKey}
	})
}

// expG is g^x for a public exponent x.
func (e *ElectionRecord) expG(x *big.Int) *big.Int {
	e.tables()
	return e.gTable.exp(x)
}

// mulExpG is g^s b^c for public s, b, c.
func (e *ElectionRecord) mulExpG(s, b, c *big.Int) *big.Int {
	e.tables()
	r := e.gTable.exp(s)
	return r.Mul(r, new(big.Int).Exp(b, c, e.Group.P)).Mod(r, e.Group.P)
}

// mulExpY is y^s b^c for public s, b, c.
func (e *ElectionRecord) mulExpY(s, b, c *big.Int) *big.Int {
	e.tables()
	r := e.yTable.exp(s)
	return r.Mul(r, new(big.Int).Exp(b, c, e.Group.P)).Mod(r, e.Group.P)
}
