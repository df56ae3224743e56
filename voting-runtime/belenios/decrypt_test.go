package belenios

import (
	"bytes"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lines splits belenios-tool's output into its non-empty lines.
func lines(out []byte) [][]byte {
	var ls [][]byte
	for _, l := range bytes.Split(out, []byte("\n")) {
		if len(l) > 0 {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestTallyDecryptionAndResultAgreeWithBelenios: for weighted ballots made by
// NewBallot (a re-vote among them), our encrypted tally equals belenios-tool's
// compute-encrypted-tally, belenios-tool's partial decryption passes
// VerifyPartialDecryption, ours is accepted by belenios-tool, DecodeResult equals
// compute-result and the plaintexts' counts, and the whole archive verifies.
func TestTallyDecryptionAndResultAgreeWithBelenios(t *testing.T) {
	ce := newCryptoElection(t, testQuestions(), 4, []int64{1, 3, 2, 5})
	e := ce.Record
	type vote struct {
		voter int
		p     Plaintext
	}
	votes := []vote{
		{0, Plaintext{{0, 1, 0, 0}, {1, 0, 1}}},
		{1, Plaintext{{1, 0, 0, 0}, {0, 1, 0}}},
		{2, Plaintext{{0, 0, 0, 1}, {0, 0, 1}}},
		{3, Plaintext{{0, 1, 0, 0}, {1, 1, 0}}},
		{0, Plaintext{{0, 0, 1, 0}, {0, 1, 1}}}, // voter 0 votes again: this one counts
	}
	counted := map[int]*Ballot{}
	want := [][]int64{{0, 0, 0, 0}, {0, 0, 0}}
	last := map[int]Plaintext{}
	for _, v := range votes {
		raw := mustBallot(t, e, ce.Creds[v.voter], v.p)
		b, err := e.VerifyBallot(raw)
		if err != nil {
			t.Fatal(err)
		}
		counted[v.voter] = b
		last[v.voter] = v.p
		ce.castAll(t, raw)
	}
	tally := NewTally(e)
	var bs []*Ballot
	var ws []int64
	for voter, b := range counted {
		bs = append(bs, b)
		ws = append(ws, ce.Weights[voter])
		for qi := range last[voter] {
			for i, m := range last[voter][qi] {
				want[qi][i] += int64(m) * ce.Weights[voter]
			}
		}
	}
	// Add and AddAll agree.
	for i := range bs {
		tally.Add(bs[i], ws[i])
	}
	other := NewTally(e)
	other.AddAll(bs, ws)
	a, _ := Marshal(tally.Encrypted())
	b, _ := Marshal(other.Encrypted())
	if !bytes.Equal(a, b) {
		t.Fatal("Add and AddAll give different tallies")
	}
	if tally.Count() != 4 || tally.TotalWeight() != 11 {
		t.Fatalf("count %d, total weight %d; want 4 and 11", tally.Count(), tally.TotalWeight())
	}
	ce.addEvent(t, "EndBallots", nil)
	toolTally := lines(ctool(t, ce.Dir, nil, "election", "compute-encrypted-tally"))
	if len(toolTally) < 1 || !bytes.Equal(toolTally[0], a) {
		t.Fatalf("encrypted tally differs from belenios-tool's:\n ours %.200s\n tool %.200s", a, toolTally)
	}
	var sized SizedEncryptedTally
	if err := UnmarshalStrict(toolTally[len(toolTally)-1], &sized); err != nil {
		t.Fatalf("belenios-tool's sized tally %s: %v", toolTally[len(toolTally)-1], err)
	}
	if sized.NumTallied != 4 || sized.TotalWeight != 11 || sized.EncryptedTally != SHA256Hex(a) {
		t.Fatalf("belenios-tool's sized tally %+v", sized)
	}
	ce.addEvent(t, "EncryptedTally", bytes.Join(toolTally, []byte("\n")))
	et := tally.Encrypted()

	// belenios-tool's partial decryption checks with ours.
	keyFile := filepath.Join(t.TempDir(), "key.privkey")
	if err := os.WriteFile(keyFile, []byte(`"`+ce.Key.Text(10)+`"`), 0o600); err != nil {
		t.Fatal(err)
	}
	toolPD := lines(ctool(t, ce.Dir, nil, "election", "decrypt", "--privkey", keyFile, "--trustee-id", "1"))
	var pd PartialDecryption
	if err := UnmarshalStrict(toolPD[0], &pd); err != nil {
		t.Fatalf("belenios-tool's partial decryption %.200s: %v", toolPD[0], err)
	}
	X := Belenios2048().Exp(ce.Key)
	if err := VerifyPartialDecryption(e, X, et, &pd); err != nil {
		t.Fatalf("belenios-tool's partial decryption: %v", err)
	}
	// Ours: belenios-tool accepts it in the archive.
	ours, err := PartialDecrypt(e, ce.Key, et)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyPartialDecryption(e, X, et, ours); err != nil {
		t.Fatalf("our partial decryption: %v", err)
	}
	for qi := range ours.DecryptionFactors {
		for i := range ours.DecryptionFactors[qi] {
			if ours.DecryptionFactors[qi][i].Big().Cmp(pd.DecryptionFactors[qi][i].Big()) != 0 {
				t.Fatal("our decryption factors differ from belenios-tool's")
			}
		}
	}
	pdJSON, _ := Marshal(ours)
	owned, _ := Marshal(Owned{Owner: 1, Payload: SHA256Hex(pdJSON)})
	ce.addEvent(t, "PartialDecryption", append(append(pdJSON, '\n'), owned...))

	factors := make([][]*big.Int, len(ours.DecryptionFactors))
	for qi := range factors {
		for _, f := range ours.DecryptionFactors[qi] {
			factors[qi] = append(factors[qi], f.Big())
		}
	}
	res, err := DecodeResult(e, et, factors, tally.TotalWeight())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Marshal(res)
	wantJSON, _ := Marshal(Result{Result: want})
	if !bytes.Equal(got, wantJSON) {
		t.Fatalf("result %s, the plaintexts count %s", got, wantJSON)
	}
	toolResult := lines(ctool(t, ce.Dir, nil, "election", "compute-result"))
	if !bytes.Equal(toolResult[0], got) {
		t.Fatalf("result %s, belenios-tool's compute-result %s", got, toolResult[0])
	}
	ce.addEvent(t, "Result", got)
	out, err := ce.verify(t)
	if err != nil || !strings.Contains(string(out), "I: all checks passed") {
		t.Fatalf("belenios-tool election verify: %s %v", out, err)
	}

	// A tampered partial decryption fails: a factor changed, a proof changed,
	// the wrong trustee's key.
	bad := *ours
	bad.DecryptionFactors = [][]*Int{append([]*Int(nil), ours.DecryptionFactors[0]...), ours.DecryptionFactors[1]}
	bad.DecryptionFactors[0][2] = NewInt(new(big.Int).Mod(new(big.Int).Mul(ours.DecryptionFactors[0][2].Big(), Belenios2048().G), Belenios2048().P))
	if VerifyPartialDecryption(e, X, et, &bad) == nil {
		t.Fatal("a changed factor was accepted")
	}
	bad = *ours
	bad.DecryptionProofs = [][]Proof{ours.DecryptionProofs[0], append([]Proof(nil), ours.DecryptionProofs[1]...)}
	bad.DecryptionProofs[1][0].Response = addOne(bad.DecryptionProofs[1][0].Response)
	if VerifyPartialDecryption(e, X, et, &bad) == nil {
		t.Fatal("a changed proof was accepted")
	}
	if VerifyPartialDecryption(e, Belenios2048().Exp(big.NewInt(7)), et, ours) == nil {
		t.Fatal("a partial decryption was accepted under another trustee's key")
	}
	if VerifyPartialDecryption(e, X, et, &PartialDecryption{DecryptionFactors: ours.DecryptionFactors[:1], DecryptionProofs: ours.DecryptionProofs[:1]}) == nil {
		t.Fatal("a partial decryption of another shape was accepted")
	}
}

// TestDecodeResultFindsLogsUpToTheTotalWeightAndNoFurther checks the discrete
// logarithm at its bounds, with a table smaller than the range (several giant
// steps).
func TestDecodeResultFindsLogsUpToTheTotalWeightAndNoFurther(t *testing.T) {
	g := Belenios2048()
	for _, max := range []int64{0, 1, 2, 99, 100, 140000, 5_000_000} {
		d := newDiscreteLog(g, max)
		for _, k := range []int64{0, max / 2, max} {
			got, ok := d.log(g.Exp(big.NewInt(k)))
			if !ok || got != k {
				t.Fatalf("max %d: log of g^%d gave %d %v", max, k, got, ok)
			}
		}
		if _, ok := d.log(g.Exp(big.NewInt(max + 1))); ok {
			t.Fatalf("max %d: found a log above the bound", max)
		}
	}
	if d := newDiscreteLog(g, 1<<40); d.m != maxBabySteps || len(d.baby) != maxBabySteps {
		t.Fatalf("the table grew to %d entries", len(d.baby))
	}
}

func TestPartialDecryptRefusesABadKeyOrTally(t *testing.T) {
	ce := newCryptoElection(t, testQuestions(), 1, nil)
	et := NewTally(ce.Record).Encrypted()
	if _, err := PartialDecrypt(ce.Record, big.NewInt(0), et); err == nil {
		t.Fatal("a zero key was accepted")
	}
	et[0] = et[0][:2]
	_, err := PartialDecrypt(ce.Record, ce.Key, et)
	if err == nil || strings.Contains(err.Error(), ce.Key.Text(10)) {
		t.Fatalf("a tally of another shape: %v", err)
	}
}

// BenchmarkTallyAdd is adding one verified 2-question ballot (7 slots) to the
// tally, weight 1.
func BenchmarkTallyAdd(b *testing.B) {
	e, cred := benchElection(b)
	raw, err := NewBallot(e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}})
	if err != nil {
		b.Fatal(err)
	}
	ballot, err := e.VerifyBallot(raw)
	if err != nil {
		b.Fatal(err)
	}
	t := NewTally(e)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.Add(ballot, 1)
	}
}
