package belenios

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// castAll appends ballots to the archive as Ballot events.
func (ce *cryptoElection) castAll(t testing.TB, ballots ...[]byte) {
	t.Helper()
	for _, b := range ballots {
		ce.addEvent(t, "Ballot", b)
	}
}

func mustBallot(t testing.TB, e *ElectionRecord, cred string, p Plaintext) []byte {
	t.Helper()
	b, err := NewBallot(e, cred, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNewBallotPassesBeleniosVerify: ballots made by NewBallot (a choice, a
// blank vote, two choices, a re-vote) in an archive belenios-tool builds from
// this package's election record, trustee key and public credentials pass
// `belenios-tool election verify`, and our own VerifyBallot.
func TestNewBallotPassesBeleniosVerify(t *testing.T) {
	ce := newCryptoElection(t, testQuestions(), 3, nil)
	e := ce.Record
	ballots := [][]byte{
		mustBallot(t, e, ce.Creds[0], Plaintext{{0, 1, 0, 0}, {1, 0, 1}}),
		mustBallot(t, e, ce.Creds[1], Plaintext{{1, 0, 0, 0}, {0, 1, 0}}),
		mustBallot(t, e, ce.Creds[2], Plaintext{{0, 0, 0, 1}, {0, 0, 1}}),
		mustBallot(t, e, ce.Creds[0], Plaintext{{0, 0, 1, 0}, {1, 1, 0}}),
	}
	for i, b := range ballots {
		if _, err := e.VerifyBallot(b); err != nil {
			t.Fatalf("ballot %d: VerifyBallot: %v", i, err)
		}
	}
	ce.castAll(t, ballots...)
	out, err := ce.verify(t)
	if err != nil {
		t.Fatalf("belenios-tool election verify: %v", err)
	}
	if !strings.Contains(string(out), "I: all checks passed") {
		t.Fatalf("belenios-tool election verify printed %s", out)
	}
}

// TestNewBallotMultipleChoiceWithBlankAndZeroMinPassesBeleniosVerify covers the
// other shapes: blank with min..max over several answers, and min 0.
func TestNewBallotOtherShapesPassBeleniosVerify(t *testing.T) {
	qs := []Question{
		{Answers: []string{"A", "B", "C", "D"}, Blank: true, Min: 2, Max: 3, Question: "q1"},
		{Answers: []string{"A", "B"}, Min: 0, Max: 2, Question: "q2"},
	}
	ce := newCryptoElection(t, qs, 2, []int64{2, 5})
	e := ce.Record
	ballots := [][]byte{
		mustBallot(t, e, ce.Creds[0], Plaintext{{0, 1, 1, 1, 0}, {0, 0}}),
		mustBallot(t, e, ce.Creds[1], Plaintext{{1, 0, 0, 0, 0}, {1, 1}}),
	}
	for i, b := range ballots {
		if _, err := e.VerifyBallot(b); err != nil {
			t.Fatalf("ballot %d: VerifyBallot: %v", i, err)
		}
	}
	ce.castAll(t, ballots...)
	if out, err := ce.verify(t); err != nil || !strings.Contains(string(out), "I: all checks passed") {
		t.Fatalf("belenios-tool election verify: %s %v", out, err)
	}
}

func TestNewBallotRefusesChoicesOutsideTheQuestionWithoutSayingThem(t *testing.T) {
	ce := newCryptoElection(t, testQuestions(), 1, nil)
	for _, p := range []Plaintext{
		{{0, 1, 1, 0}, {1, 0, 0}}, // two choices where one is allowed
		{{1, 1, 0, 0}, {1, 0, 0}}, // blank and a choice
		{{0, 0, 0, 0}, {1, 0, 0}}, // nothing where one is needed
		{{0, 1, 0, 0}, {1, 1, 1}}, // three where two at most
		{{0, 2, 0, 0}, {1, 0, 0}}, // not 0/1
		{{0, 1, 0}, {1, 0, 0}},    // a slot missing
		{{0, 1, 0, 0}},            // a question missing
	} {
		_, err := NewBallot(ce.Record, ce.Creds[0], p)
		if err == nil {
			t.Fatalf("NewBallot accepted %v", p)
		}
		if strings.Contains(err.Error(), ce.Creds[0]) || strings.ContainsAny(err.Error(), "[]") {
			t.Fatalf("the error says too much: %v", err)
		}
	}
	if _, err := NewBallot(ce.Record, "AAA-AAA-AAA-AAA-AAA", Plaintext{{0, 1, 0, 0}, {1, 0, 0}}); err == nil {
		t.Fatal("NewBallot accepted a credential whose checksum fails")
	}
}

// TestBeleniosBallotPassesVerifyBallot: ballots made by `belenios-tool election
// generate-ballot` pass VerifyBallot, and their tracker is the SHA256B64 of
// their bytes.
func TestBeleniosBallotPassesVerifyBallot(t *testing.T) {
	ce := newCryptoElection(t, testQuestions(), 2, nil)
	for i, p := range []Plaintext{{{0, 1, 0, 0}, {1, 0, 1}}, {{1, 0, 0, 0}, {0, 0, 1}}} {
		raw := ce.toolBallot(t, ce.Creds[i], p)
		b, err := ce.Record.VerifyBallot(raw)
		if err != nil {
			t.Fatalf("belenios-tool's ballot %d: %v", i, err)
		}
		if b.Credential.Big().Cmp(PublicCredentialOf(Belenios2048(), ce.Creds[i], ce.Record.Election.UUID)) != 0 {
			t.Fatal("the ballot's credential is not the voter's public credential")
		}
		if Tracker(raw) != SHA256B64(raw) || len(Tracker(raw)) != 43 {
			t.Fatal("the tracker is not the SHA256B64 of the ballot")
		}
	}
}

// resign signs b again with cred, as a voter who holds the credential and
// tampers with their own ballot would.
func resign(t testing.TB, e *ElectionRecord, b *Ballot, cred string) []byte {
	t.Helper()
	b.Signature = nil
	unsigned, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	h := SHA256B64(unsigned)
	p, err := schnorrProve(e.Group, CredentialSecret(e.Group, cred, e.Election.UUID), sigPrefix(h))
	if err != nil {
		t.Fatal(err)
	}
	b.Signature = &Signature{Hash: h, Proof: p}
	raw, err := Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func parsed(t testing.TB, raw []byte) *Ballot {
	t.Helper()
	b, err := ParseBallot(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addOne(x *Int) *Int {
	return NewInt(new(big.Int).Add(x.Big(), big.NewInt(1)))
}

// TestTamperedBallotsFailWithTheirReason: a changed ciphertext, a changed proof,
// a wrong signature, another election's ballot and a re-serialized ballot are
// refused, each with its reason; belenios-tool refuses the same ballots.
func TestTamperedBallotsFailWithTheirReason(t *testing.T) {
	ce := newCryptoElection(t, testQuestions(), 2, nil)
	other := newCryptoElection(t, testQuestions(), 1, nil)
	e, cred := ce.Record, ce.Creds[0]
	good := mustBallot(t, e, cred, Plaintext{{0, 1, 0, 0}, {1, 0, 1}})
	g := e.Group
	cases := []struct {
		name   string
		raw    func() []byte
		reason string
	}{
		{"changed ciphertext, not re-signed", func() []byte {
			b := parsed(t, good)
			b.Answers[0].Choices[1].Beta = NewInt(new(big.Int).Mod(new(big.Int).Mul(b.Answers[0].Choices[1].Beta.Big(), g.G), g.P))
			raw, _ := Marshal(b)
			return raw
		}, ReasonBadSignature},
		{"changed ciphertext, re-signed", func() []byte {
			// A vote for answer 1 turned into two votes: beta * g.
			b := parsed(t, good)
			b.Answers[0].Choices[1].Beta = NewInt(new(big.Int).Mod(new(big.Int).Mul(b.Answers[0].Choices[1].Beta.Big(), g.G), g.P))
			return resign(t, e, b, cred)
		}, ReasonBadProof},
		{"ciphertext outside the group, re-signed", func() []byte {
			b := parsed(t, good)
			b.Answers[1].Choices[0].Alpha = NewInt(new(big.Int).Sub(g.P, big.NewInt(1)))
			return resign(t, e, b, cred)
		}, ReasonBadProof},
		{"individual proof changed, re-signed", func() []byte {
			b := parsed(t, good)
			b.Answers[1].IndividualProofs[2][0].Response = addOne(b.Answers[1].IndividualProofs[2][0].Response)
			return resign(t, e, b, cred)
		}, ReasonBadProof},
		{"blank proof changed, re-signed", func() []byte {
			b := parsed(t, good)
			b.Answers[0].BlankProof[1].Challenge = addOne(b.Answers[0].BlankProof[1].Challenge)
			return resign(t, e, b, cred)
		}, ReasonBadProof},
		{"overall proof changed, re-signed", func() []byte {
			b := parsed(t, good)
			b.Answers[1].OverallProof[0].Response = addOne(b.Answers[1].OverallProof[0].Response)
			return resign(t, e, b, cred)
		}, ReasonBadProof},
		{"proof response out of range, re-signed", func() []byte {
			b := parsed(t, good)
			r := b.Answers[0].IndividualProofs[0][1].Response.Big()
			b.Answers[0].IndividualProofs[0][1].Response = NewInt(new(big.Int).Add(r, g.Q))
			return resign(t, e, b, cred)
		}, ReasonBadProof},
		{"signature response changed", func() []byte {
			b := parsed(t, good)
			b.Signature.Proof.Response = addOne(b.Signature.Proof.Response)
			raw, _ := Marshal(b)
			return raw
		}, ReasonBadSignature},
		{"signed with another credential", func() []byte {
			b := parsed(t, good)
			return resign(t, e, b, ce.Creds[1])
		}, ReasonBadSignature},
		{"another election's ballot", func() []byte {
			return mustBallot(t, other.Record, other.Creds[0], Plaintext{{0, 1, 0, 0}, {1, 0, 1}})
		}, ReasonWrongElection},
		{"re-serialized with spaces", func() []byte {
			return bytes.Replace(good, []byte(`,"credential"`), []byte(`, "credential"`), 1)
		}, ReasonNotCanonical},
		{"re-serialized with keys reordered", func() []byte {
			b := parsed(t, good)
			u, _ := Marshal(b.ElectionUUID)
			h, _ := Marshal(b.ElectionHash)
			return bytes.Replace(good, []byte(`{"election_uuid":`+string(u)+`,"election_hash":`+string(h)), []byte(`{"election_hash":`+string(h)+`,"election_uuid":`+string(u)), 1)
		}, ReasonNotCanonical},
		{"a number with a leading zero", func() []byte {
			return bytes.Replace(good, []byte(`"credential":"`), []byte(`"credential":"0`), 1)
		}, ReasonNotCanonical},
		{"a trailing newline", func() []byte { return append(append([]byte(nil), good...), '\n') }, ReasonNotCanonical},
		{"not signed", func() []byte {
			b := parsed(t, good)
			b.Signature = nil
			raw, _ := Marshal(b)
			return raw
		}, ReasonBadSignature},
	}
	var rejectedByUs [][]byte
	for _, c := range cases {
		raw := c.raw()
		_, err := e.VerifyBallot(raw)
		var be *BallotError
		if !errors.As(err, &be) {
			t.Fatalf("%s: VerifyBallot returned %v, want a *BallotError", c.name, err)
		}
		if be.Reason != c.reason {
			t.Errorf("%s: reason %q, want %q (%s)", c.name, be.Reason, c.reason, be.Message)
		}
		if strings.Contains(be.Error(), cred) {
			t.Errorf("%s: the error holds the credential", c.name)
		}
		rejectedByUs = append(rejectedByUs, raw)
	}
	if _, err := e.VerifyBallot(good); err != nil {
		t.Fatalf("the untampered ballot: %v", err)
	}
	// belenios-tool refuses each tampered ballot too (a copy of the archive per
	// ballot, the good one first so the credential is known).
	ce.castAll(t, good)
	archive, _ := filepath.Glob(filepath.Join(ce.Dir, "*.bel"))
	base, err := os.ReadFile(archive[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range rejectedByUs {
		if bytes.ContainsRune(raw, '\n') {
			continue // add-event reads one ballot per line
		}
		if err := os.WriteFile(archive[0], base, 0o600); err != nil {
			t.Fatal(err)
		}
		ce.castAll(t, raw)
		if out, err := ce.verify(t); err == nil {
			t.Errorf("%s: belenios-tool accepted it: %s", cases[i].name, out)
		}
	}
	if err := os.WriteFile(archive[0], base, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := ce.verify(t); err != nil {
		t.Fatalf("the archive with the good ballot alone: %s %v", out, err)
	}
}
