package belenios

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"strings"
	"testing"
)

// The fixtures in testdata/trustees were written by belenios-tool 2.0:
// singles.json by `setup make-trustees` over two `generate-trustee-key` keys
// (their private keys, in owner order, in singles.privkeys), singles-pedersen.json
// over the same two keys and the threshold.json of a 2-of-3
// `generate-trustee-key-threshold` ceremony; *.public-key is the public_key
// `setup make-election` computed from each.

func readTrusteesFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/trustees/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func trusteesFixtureInt(t *testing.T, name string) *big.Int {
	t.Helper()
	x, ok := new(big.Int).SetString(strings.TrimSpace(string(readTrusteesFixture(t, name))), 10)
	if !ok {
		t.Fatalf("%s: not a number", name)
	}
	return x
}

func trusteesSinglePrivateKeys(t *testing.T) []*big.Int {
	t.Helper()
	var keys []*big.Int
	for _, line := range strings.Split(strings.TrimSpace(string(readTrusteesFixture(t, "singles.privkeys"))), "\n") {
		var x Int
		if err := json.Unmarshal([]byte(line), &x); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, x.Big())
	}
	return keys
}

func parseTrusteesFixture(t *testing.T, name string) (Trustees, []byte) {
	t.Helper()
	raw := readTrusteesFixture(t, name)
	tr, err := ParseTrustees(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tr, raw
}

func TestTrusteesFromBeleniosToolRemarshalToTheSameBytes(t *testing.T) {
	for _, name := range []string{"singles.json", "singles-pedersen.json"} {
		tr, raw := parseTrusteesFixture(t, name)
		out, err := tr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.TrimSuffix(raw, []byte("\n")); !bytes.Equal(out, want) {
			t.Errorf("%s: re-marshalled bytes differ from belenios-tool's\n got %.200s\nwant %.200s", name, out, want)
		}
	}
}

func TestTrusteesFromBeleniosToolVerify(t *testing.T) {
	g := Belenios2048()
	for _, name := range []string{"singles.json", "singles-pedersen.json"} {
		tr, _ := parseTrusteesFixture(t, name)
		if err := tr.Verify(g); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTrusteesPublicKeyIsWhatBeleniosToolComputes(t *testing.T) {
	g := Belenios2048()
	for _, name := range []string{"singles", "singles-pedersen"} {
		tr, _ := parseTrusteesFixture(t, name+".json")
		want := trusteesFixtureInt(t, name+".public-key")
		if got := tr.PublicKey(g); got == nil || got.Cmp(want) != 0 {
			t.Errorf("%s: public key differs from belenios-tool make-election's", name)
		}
	}
	// And for Singles it is g to the sum of the private keys.
	tr, _ := parseTrusteesFixture(t, "singles.json")
	sum := new(big.Int)
	for _, x := range trusteesSinglePrivateKeys(t) {
		sum.Add(sum, x)
	}
	if tr.PublicKey(g).Cmp(g.Exp(sum)) != 0 {
		t.Error("the public key of Singles is not g^(x1+x2)")
	}
}

func TestTrusteesVerifyRefusesTamperedSingles(t *testing.T) {
	g := Belenios2048()
	cases := map[string]func(k *TrusteePublicKey){
		"challenge+1": func(k *TrusteePublicKey) {
			k.PoK.Challenge = NewInt(new(big.Int).Add(k.PoK.Challenge.Big(), big.NewInt(1)))
		},
		"response+1": func(k *TrusteePublicKey) {
			k.PoK.Response = NewInt(new(big.Int).Add(k.PoK.Response.Big(), big.NewInt(1)))
		},
		"key*g": func(k *TrusteePublicKey) {
			k.PublicKey = NewInt(new(big.Int).Mod(new(big.Int).Mul(k.PublicKey.Big(), g.G), g.P))
		},
		"key not in group": func(k *TrusteePublicKey) { k.PublicKey = NewInt(big.NewInt(2)) },
		"challenge >= q": func(k *TrusteePublicKey) {
			k.PoK.Challenge = NewInt(new(big.Int).Add(k.PoK.Challenge.Big(), g.Q))
		},
	}
	for name, tamper := range cases {
		tr, _ := parseTrusteesFixture(t, "singles.json")
		tamper(tr[1].Single)
		if err := tr.Verify(g); err == nil {
			t.Errorf("%s: Verify accepted a tampered key", name)
		} else if !strings.Contains(err.Error(), "trustee 2") {
			t.Errorf("%s: the error does not name trustee 2: %v", name, err)
		}
	}
}

func TestTrusteesParseRefusesMalformedEntries(t *testing.T) {
	_, raw := parseTrusteesFixture(t, "singles.json")
	cases := map[string]string{
		"unknown kind":  strings.Replace(string(raw), `"Single"`, `"Double"`, 1),
		"unknown field": strings.Replace(string(raw), `"public_key"`, `"extra":"1","public_key"`, 1),
		"three items":   strings.Replace(string(raw), `"Single",{`, `"Single","x",{`, 1),
		"empty list":    `[]`,
		"number key":    strings.Replace(string(raw), `"public_key":"`, `"public_key":1,"x":"`, 1),
	}
	for name, in := range cases {
		if _, err := ParseTrustees([]byte(in)); err == nil {
			t.Errorf("%s: ParseTrustees accepted it", name)
		}
	}
}

func TestTrusteesOwnersAndVerificationKeys(t *testing.T) {
	g := Belenios2048()
	tr, _ := parseTrusteesFixture(t, "singles.json")
	if tr.Owners() != 2 {
		t.Fatalf("Owners = %d, want 2", tr.Owners())
	}
	for i, x := range trusteesSinglePrivateKeys(t) {
		X, err := tr.VerificationKey(i + 1)
		if err != nil {
			t.Fatal(err)
		}
		if X.Cmp(g.Exp(x)) != 0 {
			t.Errorf("VerificationKey(%d) is not g^x of that trustee's private key", i+1)
		}
		if tr.OwnerOf(g.Exp(x)) != i+1 {
			t.Errorf("OwnerOf(g^x%d) = %d", i+1, tr.OwnerOf(g.Exp(x)))
		}
	}
	for _, o := range []int{0, 3, -1} {
		if _, err := tr.VerificationKey(o); err == nil {
			t.Errorf("VerificationKey(%d) did not fail", o)
		}
	}
	if tr.OwnerOf(g.G) != 0 {
		t.Error("OwnerOf an unknown key is not 0")
	}

	// Pedersen members count one each, after the Singles.
	tp, _ := parseTrusteesFixture(t, "singles-pedersen.json")
	if tp.Owners() != 5 {
		t.Fatalf("Owners = %d, want 5 (2 Singles + 3 members)", tp.Owners())
	}
	for j := 0; j < 3; j++ {
		X, err := tp.VerificationKey(3 + j)
		if err != nil {
			t.Fatal(err)
		}
		if X.Cmp(tp[2].Pedersen.VerificationKeys[j].PublicKey.Big()) != 0 {
			t.Errorf("VerificationKey(%d) is not member %d's verification key", 3+j, j+1)
		}
	}
}

func TestTrusteesReady(t *testing.T) {
	tr, _ := parseTrusteesFixture(t, "singles.json")
	for _, c := range []struct {
		have []int
		want bool
	}{{nil, false}, {[]int{1}, false}, {[]int{2}, false}, {[]int{1, 2}, true}, {[]int{2, 1, 3}, true}} {
		if got := tr.Ready(c.have); got != c.want {
			t.Errorf("singles: Ready(%v) = %v, want %v", c.have, got, c.want)
		}
	}
	// Two Singles and a 2-of-3 Pedersen entry (owners 3, 4, 5).
	tp, _ := parseTrusteesFixture(t, "singles-pedersen.json")
	for _, c := range []struct {
		have []int
		want bool
	}{
		{[]int{1, 2}, false}, {[]int{1, 2, 3}, false}, {[]int{1, 2, 3, 5}, true}, {[]int{1, 2, 4, 5}, true},
		{[]int{1, 3, 4, 5}, false}, {[]int{1, 2, 3, 4, 5}, true}, {[]int{1, 2, 5, 6}, false},
	} {
		if got := tp.Ready(c.have); got != c.want {
			t.Errorf("singles+pedersen: Ready(%v) = %v, want %v", c.have, got, c.want)
		}
	}
}

// encryptFor is an ElGamal encryption of g^m under y, with its randomness.
func trusteesEncrypt(t *testing.T, g *Group, y *big.Int, m int64) (alpha, beta *big.Int) {
	t.Helper()
	r, err := g.RandomScalar()
	if err != nil {
		t.Fatal(err)
	}
	alpha = g.Exp(r)
	beta = new(big.Int).Exp(y, r, g.P)
	beta.Mul(beta, g.Exp(big.NewInt(m))).Mod(beta, g.P)
	return alpha, beta
}

// factorsOf is a partial decryption's factors alpha^x for each ciphertext
// (proofs are not Combine's business).
func trusteesFactors(g *Group, x *big.Int, alphas [][]*big.Int) *PartialDecryption {
	pd := &PartialDecryption{DecryptionFactors: make([][]*Int, len(alphas))}
	for q := range alphas {
		for _, a := range alphas[q] {
			pd.DecryptionFactors[q] = append(pd.DecryptionFactors[q], NewInt(new(big.Int).Exp(a, x, g.P)))
		}
	}
	return pd
}

// decryptsTo checks that beta / combined = g^m for each slot.
func trusteesDecryptsTo(t *testing.T, g *Group, combined, betas [][]*big.Int, ms [][]int64) {
	t.Helper()
	for q := range betas {
		for s := range betas[q] {
			inv := new(big.Int).ModInverse(combined[q][s], g.P)
			gm := inv.Mul(inv, betas[q][s]).Mod(inv, g.P)
			if gm.Cmp(g.Exp(big.NewInt(ms[q][s]))) != 0 {
				t.Errorf("question %d slot %d does not decrypt to %d", q+1, s+1, ms[q][s])
			}
		}
	}
}

func TestTrusteesCombineSinglesIsTheProductOfFactors(t *testing.T) {
	g := Belenios2048()
	tr, _ := parseTrusteesFixture(t, "singles.json")
	y := tr.PublicKey(g)
	ms := [][]int64{{3, 0}, {1}}
	alphas := make([][]*big.Int, len(ms))
	betas := make([][]*big.Int, len(ms))
	for q := range ms {
		for _, m := range ms[q] {
			a, b := trusteesEncrypt(t, g, y, m)
			alphas[q] = append(alphas[q], a)
			betas[q] = append(betas[q], b)
		}
	}
	keys := trusteesSinglePrivateKeys(t)
	pds := map[int]*PartialDecryption{1: trusteesFactors(g, keys[0], alphas), 2: trusteesFactors(g, keys[1], alphas)}
	combined, err := tr.Combine(g, pds)
	if err != nil {
		t.Fatal(err)
	}
	trusteesDecryptsTo(t, g, combined, betas, ms)

	if _, err := tr.Combine(g, map[int]*PartialDecryption{1: pds[1]}); err == nil {
		t.Error("Combine with one of two Singles did not fail")
	}
	bad := trusteesFactors(g, keys[1], alphas[:1])
	if _, err := tr.Combine(g, map[int]*PartialDecryption{1: pds[1], 2: bad}); err == nil {
		t.Error("Combine accepted partial decryptions of different shapes")
	}
	notInGroup := trusteesFactors(g, keys[1], alphas)
	notInGroup.DecryptionFactors[0][0] = NewInt(big.NewInt(2))
	if _, err := tr.Combine(g, map[int]*PartialDecryption{1: pds[1], 2: notInGroup}); err == nil {
		t.Error("Combine accepted a factor outside the group")
	}
}

func TestLagrangeInterpolatesAtZero(t *testing.T) {
	g := Belenios2048()
	// f(X) = 5 + 7X + 11X^2: any three points give f(0) = 5.
	f := func(x int64) *big.Int { return big.NewInt(5 + 7*x + 11*x*x) }
	for _, idx := range [][]int{{1, 2, 3}, {2, 4, 5}, {5, 1, 3}} {
		sum := new(big.Int)
		for _, j := range idx {
			sum.Add(sum, new(big.Int).Mul(Lagrange(g, idx, j), f(int64(j))))
		}
		if sum.Mod(sum, g.Q).Cmp(big.NewInt(5)) != 0 {
			t.Errorf("interpolation over %v gives %v, want 5", idx, sum)
		}
	}
}
