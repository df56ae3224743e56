package belenios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

// boardCast is one ballot a test casts: the private credential and the plaintext.
type boardCast struct {
	Credential string
	Plaintext  Plaintext
}

// scrutinBoard is a whole board made with this package alone, from a setup:
// ballots by NewBallot, the tally of the last ballot of each credential with
// its weight, the partial decryptions of the Single trustees whose private keys
// are given (owner -> x), and the result. It stops after the stage named by
// until ("ballots", "tally", "result").
func scrutinBoard(t testing.TB, timestamp int64, election, trustees, credentials []byte, keys map[int]*big.Int, casts []boardCast, until string) []byte {
	t.Helper()
	e, err := ParseElection(election)
	if err != nil {
		t.Fatal(err)
	}
	pcs, err := ParsePublicCredentials(e.Group, credentials)
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string]int64{}
	for _, pc := range pcs {
		weights[pc.Credential.Text(10)] = pc.Weight
	}
	var buf bytes.Buffer
	w, err := NewArchiveWriter(&buf, timestamp)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Setup(election, trustees, credentials))
	last := map[string]int{}
	var ballots []*Ballot
	for i, c := range casts {
		raw, err := NewBallot(e, c.Credential, c.Plaintext)
		must(err)
		b, err := e.VerifyBallot(raw)
		must(err)
		must(w.Ballot(raw))
		ballots = append(ballots, b)
		last[b.Credential.Big().Text(10)] = i
	}
	if until == "ballots" {
		return buf.Bytes()
	}
	must(w.EndBallots())
	tally := NewTally(e)
	for i, b := range ballots {
		if last[b.Credential.Big().Text(10)] == i {
			tally.Add(b, weights[b.Credential.Big().Text(10)])
		}
	}
	et := tally.Encrypted()
	must(w.EncryptedTally(mustMarshal(t, et), SizedEncryptedTally{NumTallied: tally.Count(), TotalWeight: tally.TotalWeight()}))
	ts, err := ParseTrustees(trustees)
	must(err)
	pds := map[int]*PartialDecryption{}
	for owner := 1; owner <= ts.Owners(); owner++ {
		x, ok := keys[owner]
		if !ok {
			continue
		}
		pd, err := PartialDecrypt(e, x, et)
		must(err)
		pds[owner] = pd
		must(w.PartialDecryption(owner, mustMarshal(t, pd)))
	}
	if until == "tally" {
		return buf.Bytes()
	}
	factors, err := ts.Combine(e.Group, pds)
	must(err)
	res, err := DecodeResult(e, et, factors, tally.TotalWeight())
	must(err)
	must(w.Result(mustMarshal(t, res)))
	return buf.Bytes()
}

// toolTrusteeKey is the private key of the belenios-tool election's trustee.
func toolTrusteeKey(t testing.TB, e *toolElection) *big.Int {
	var x Int
	if err := UnmarshalStrict(bytes.TrimSpace(e.PrivKey), &x); err != nil {
		t.Fatalf("private key file %q: %v", e.PrivKey, err)
	}
	return x.Big()
}

// scrutinElection is an election set up by this package alone: three voters of
// weights 2, 1 and 1, the template's two questions.
type scrutinElection struct {
	Election, Trustees, Credentials []byte
	// Keys are the trustees' private keys (or Pedersen shares) by owner.
	Keys   map[int]*big.Int
	Voters []string // private credentials
	Record *ElectionRecord
}

// newScrutinElection has one platform trustee.
func newScrutinElection(t testing.TB) *scrutinElection {
	t.Helper()
	x, pub, err := NewTrusteeKey(Belenios2048())
	if err != nil {
		t.Fatal(err)
	}
	return newScrutinElectionWith(t, Trustees{{Single: &pub}}, map[int]*big.Int{1: x})
}

// newScrutinElectionWith has the trustees given, keys by owner.
func newScrutinElectionWith(t testing.TB, ts Trustees, keys map[int]*big.Int) *scrutinElection {
	t.Helper()
	g := Belenios2048()
	trustees, err := ts.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	uuid, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	qs := []Question{
		{Answers: []string{"Alice", "Bob", "Carol"}, Blank: true, Min: 1, Max: 1, Question: "Chair?"},
		{Answers: []string{"X", "Y", "Z"}, Min: 1, Max: 2, Question: "Motions?"},
	}
	election, err := NewElectionRecord(uuid, "Board test", "Made by Scrutin", qs, ts.PublicKey(g))
	if err != nil {
		t.Fatal(err)
	}
	s := &scrutinElection{Election: election, Trustees: trustees, Keys: keys}
	var pcs []PublicCredential
	for i, weight := range []int64{2, 1, 1} {
		cred, err := NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		s.Voters = append(s.Voters, cred)
		pcs = append(pcs, PublicCredential{Credential: PublicCredentialOf(g, cred, uuid), Weight: weight, VoterID: string(rune('a' + i))})
	}
	if s.Credentials, err = MarshalPublicCredentials(pcs); err != nil {
		t.Fatal(err)
	}
	if s.Record, err = ParseElection(election); err != nil {
		t.Fatal(err)
	}
	return s
}

// scrutinCasts are four ballots on a scrutinElection (voter 0 re-votes) and
// the result they give.
func scrutinCasts(s *scrutinElection) ([]boardCast, [][]int64) {
	return []boardCast{
		{s.Voters[0], Plaintext{{0, 1, 0, 0}, {1, 1, 0}}},
		{s.Voters[1], Plaintext{{1, 0, 0, 0}, {0, 0, 1}}}, // blank in the first question
		{s.Voters[2], Plaintext{{0, 0, 0, 1}, {0, 1, 0}}},
		{s.Voters[0], Plaintext{{0, 0, 1, 0}, {1, 0, 1}}}, // voter 0 (weight 2) re-votes
	}, [][]int64{{1, 0, 2, 1}, {2, 1, 3}}
}

// thresholdTrustees runs the Pedersen ceremony for members needed of n, and
// gives the trustees list [platform Single, Pedersen] with the platform's key
// (owner 1) and the members' shares (owners 2..n+1).
func thresholdTrustees(t testing.TB, needed, n int) (Trustees, map[int]*big.Int) {
	t.Helper()
	g := Belenios2048()
	x, pub, err := NewTrusteeKey(g)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[int]*big.Int{1: x}
	var (
		members []*CeremonyKey
		certs   []SignedMsg
	)
	for range n {
		k, cert, err := NewCeremonyKey(g)
		if err != nil {
			t.Fatal(err)
		}
		members, certs = append(members, k), append(certs, cert)
	}
	c, err := NewCeremony(g, needed, certs)
	if err != nil {
		t.Fatal(err)
	}
	var deals []Deal
	for _, k := range members {
		d, err := c.Deal(g, k)
		if err != nil {
			t.Fatal(err)
		}
		deals = append(deals, *d)
	}
	all, err := c.CollectDeals(g, deals)
	if err != nil {
		t.Fatal(err)
	}
	var vks []TrusteePublicKey
	for j, k := range members {
		share, vk, err := c.Share(g, k, all)
		if err != nil {
			t.Fatal(err)
		}
		keys[2+j] = share
		vks = append(vks, vk)
	}
	entry, err := c.Finish(g, all, vks)
	if err != nil {
		t.Fatal(err)
	}
	return Trustees{{Single: &pub}, entry}, keys
}

// A verdict of both verifiers on one board.
type verdicts struct {
	Tool toolVerdict
	Ours *Report
	Err  error
}

func verifyBoth(t testing.TB, board []byte) verdicts {
	t.Helper()
	rep, err := Verify(bytes.NewReader(board))
	return verdicts{Tool: toolVerify(t, board), Ours: rep, Err: err}
}

// Verify and belenios-tool agree on good boards and on every tampered one but
// two that only Verify refuses (see Verify): a changed published encrypted
// tally and a replayed ballot.
func TestVerifyAgreesWithBeleniosTool(t *testing.T) {
	e, a := readToolArchive(t)
	x := toolTrusteeKey(t, e)
	el, err := ParseElection(a.Election)
	if err != nil {
		t.Fatal(err)
	}
	// A board made by Scrutin on belenios-tool's setup: the same casts, with
	// our ballots, tally, partial decryption and result.
	var ourCasts []boardCast
	for _, c := range toolCasts {
		var p Plaintext
		if err := UnmarshalStrict([]byte(c.Plaintext), &p); err != nil {
			t.Fatal(err)
		}
		ourCasts = append(ourCasts, boardCast{Credential: e.Credentials[c.Login], Plaintext: p})
	}
	ours := scrutinBoard(t, a.Timestamp, a.Election, a.Trustees, a.Credentials, map[int]*big.Int{1: x}, ourCasts, "result")

	// rewrite spoils a copy of the belenios-tool board and writes it again.
	rewrite := func(change func(a *Archive)) []byte {
		return rewritten(func(_ testing.TB, c *Archive) { change(c) })(t, e.Archive, a)
	}
	foreign := func(cred string, mutate func(*Election)) []byte {
		var other Election
		if err := UnmarshalStrict(a.Election, &other); err != nil {
			t.Fatal(err)
		}
		mutate(&other)
		raw := mustMarshal(t, other)
		oe, err := ParseElection(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewBallot(oe, cred, ourCasts[1].Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stranger, err := NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	strangersBallot, err := NewBallot(el, stranger, ourCasts[0].Plaintext)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		board      []byte
		toolPasses bool
		oursPasses bool
	}{
		{"belenios-tool's own board", e.Archive, true, true},
		{"Scrutin's ballots, tally, decryption and result on belenios-tool's setup", ours, true, true},
		{"a ballot not in canonical form", rewrite(func(c *Archive) {
			c.Ballots[1] = bytes.Replace(c.Ballots[1], []byte(`","election_hash"`), []byte(`", "election_hash"`), 1)
		}), false, false},
		// A replayed ballot: belenios-tool 2.0 lets it pass (it counts once);
		// Belenios's server refuses it, and so does Verify.
		{"the same ballot twice (Verify only)", rewrite(func(c *Archive) {
			c.Ballots = append(c.Ballots, c.Ballots[1])
		}), true, false},
		{"a ballot under a credential not in the list", rewrite(func(c *Archive) {
			c.Ballots = append(c.Ballots, strangersBallot)
		}), false, false},
		{"a ballot for another election (uuid)", rewrite(func(c *Archive) {
			c.Ballots = append(c.Ballots, foreign(e.Credentials["dave"], func(o *Election) { o.UUID = "Zz" + o.UUID[2:] }))
		}), false, false},
		{"a ballot for another election (fingerprint)", rewrite(func(c *Archive) {
			c.Ballots = append(c.Ballots, foreign(e.Credentials["dave"], func(o *Election) { o.Name += "!" }))
		}), false, false},
		{"a partial decryption's proof changed", rewrite(func(c *Archive) {
			pd := c.PartialDecryptions[0]
			pd.Raw = changeDigit(t, pd.Raw, `"decryption_proofs":[[{"challenge":"`)
			pd.OwnedRaw = mustMarshal(t, Owned{Owner: pd.Owner, Payload: SHA256Hex(pd.Raw)})
			c.PartialDecryptions = []OwnedPartialDecryption{pd}
		}), false, false},
		{"the trustee's proof of knowledge changed", rewrite(func(c *Archive) {
			c.Trustees = changeDigit(t, c.Trustees, `"pok":{"challenge":"`)
			c.SetupData = mustMarshal(t, SetupData{Election: SHA256Hex(c.Election), Trustees: SHA256Hex(c.Trustees), Credentials: SHA256Hex(c.Credentials)})
		}), false, false},
		{"the published encrypted tally changed (Verify only)", rewrite(func(c *Archive) {
			c.EncryptedTally = changeDigit(t, c.EncryptedTally, `"beta":"`)
			sized := *c.Sized
			sized.EncryptedTally = SHA256Hex(c.EncryptedTally)
			c.SizedRaw = mustMarshal(t, sized)
		}), true, false},
	}
	for _, tm := range tamperings {
		cases = append(cases, struct {
			name       string
			board      []byte
			toolPasses bool
			oursPasses bool
		}{tm.Name, tm.Spoil(t, e.Archive, a), false, false})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := verifyBoth(t, tc.board)
			if v.Tool.Passed() != tc.toolPasses {
				t.Errorf("belenios-tool passed=%v, want %v (exit %d)\n%s", v.Tool.Passed(), tc.toolPasses, v.Tool.Code, v.Tool.Output)
			}
			if !tc.toolPasses && v.Tool.Code != 124 {
				t.Errorf("belenios-tool exit %d, want 124", v.Tool.Code)
			}
			if (v.Err == nil) != tc.oursPasses {
				t.Errorf("Verify: %v, want passed=%v", v.Err, tc.oursPasses)
			}
			if v.Err != nil {
				var ve *VerifyError
				var ae *ArchiveError
				if !errors.As(v.Err, &ve) && !errors.As(v.Err, &ae) {
					t.Errorf("Verify's error %T is neither a VerifyError nor an ArchiveError", v.Err)
				}
			}
			t.Logf("belenios-tool: %s", lastLine(v.Tool.Output))
			t.Logf("Verify: %v", v.Err)
		})
	}
}

func TestVerifyReportsTheCountedBallotsAndTheResult(t *testing.T) {
	e, a := readToolArchive(t)
	rep, err := Verify(bytes.NewReader(e.Archive))
	if err != nil {
		t.Fatal(err)
	}
	if rep.UUID != e.UUID || rep.Fingerprint != SHA256B64(a.Election) || rep.Timestamp != a.Timestamp {
		t.Errorf("report uuid %q fingerprint %q timestamp %d", rep.UUID, rep.Fingerprint, rep.Timestamp)
	}
	if rep.Head != a.Head || rep.Height != a.Height {
		t.Errorf("report head %s/%d, archive %s/%d", rep.Head, rep.Height, a.Head, a.Height)
	}
	if rep.Trustees != 1 || rep.Credentials != 4 || rep.CredentialWeight != 7 {
		t.Errorf("report: %d trustees, %d credentials of weight %d; want 1, 4, 7", rep.Trustees, rep.Credentials, rep.CredentialWeight)
	}
	if rep.Ballots != 4 || rep.Counted != 3 || rep.CountedWeight != 5 {
		t.Errorf("report: %d ballots, %d counted of weight %d; want 4, 3 (alice re-voted), 5", rep.Ballots, rep.Counted, rep.CountedWeight)
	}
	if !rep.Closed || !rep.Tallied || len(rep.PartialDecryptions) != 1 || rep.PartialDecryptions[0] != 1 {
		t.Errorf("report: closed %v tallied %v partial decryptions %v", rep.Closed, rep.Tallied, rep.PartialDecryptions)
	}
	if rep.Result == nil || !sameResult(rep.Result, &Result{Result: e.Want}) {
		t.Errorf("report result %+v, want %v", rep.Result, e.Want)
	}
	if len(rep.Notes) != 0 {
		t.Errorf("notes on a finished board: %v", rep.Notes)
	}
}

// A board made by Scrutin alone, at each stage, passes both verifiers, and
// Verify's report follows the stages.
func TestVerifyAndBeleniosToolAcceptScrutinBoardsAtEveryStage(t *testing.T) {
	s := newScrutinElection(t)
	casts, want := scrutinCasts(s)
	for _, stage := range []string{"ballots", "tally", "result"} {
		t.Run(stage, func(t *testing.T) {
			board := scrutinBoard(t, 1796203876, s.Election, s.Trustees, s.Credentials, s.Keys, casts, stage)
			v := verifyBoth(t, board)
			if !v.Tool.Passed() {
				t.Fatalf("belenios-tool: exit %d\n%s", v.Tool.Code, v.Tool.Output)
			}
			if v.Err != nil {
				t.Fatalf("Verify: %v", v.Err)
			}
			r := v.Ours
			if r.Ballots != 4 || r.Counted != 3 || r.CountedWeight != 4 {
				t.Errorf("%d ballots, %d counted of weight %d; want 4, 3, 4", r.Ballots, r.Counted, r.CountedWeight)
			}
			switch stage {
			case "ballots":
				if r.Closed || r.Tallied || r.Result != nil || len(r.Notes) == 0 {
					t.Errorf("open board reported closed %v tallied %v result %v notes %v", r.Closed, r.Tallied, r.Result, r.Notes)
				}
			case "tally":
				if !r.Closed || !r.Tallied || len(r.PartialDecryptions) != 1 || r.Result != nil {
					t.Errorf("tallied board reported closed %v tallied %v pds %v result %v", r.Closed, r.Tallied, r.PartialDecryptions, r.Result)
				}
			case "result":
				if r.Result == nil || !sameResult(r.Result, &Result{Result: want}) {
					t.Errorf("result %+v, want %v", r.Result, want)
				}
			}
		})
	}
}

// Verify lists every bad ballot, in board order, not only the first.
func TestVerifyListsEveryBadBallotInBoardOrder(t *testing.T) {
	_, a := readToolArchive(t)
	c := *a
	c.Ballots = append([][]byte(nil), a.Ballots...)
	c.Ballots[0] = changeDigit(t, c.Ballots[0], `"alpha":"`)
	c.Ballots[3] = changeDigit(t, c.Ballots[3], `"proof":{"challenge":"`)
	c.EndBallots, c.Sized, c.SizedRaw, c.PartialDecryptions, c.Result = false, nil, nil, nil, nil
	var buf bytes.Buffer
	if err := WriteArchive(&buf, &c); err != nil {
		t.Fatal(err)
	}
	_, err := Verify(&buf)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify: %v, want a VerifyError", err)
	}
	if len(ve.Problems) != 2 || !strings.HasPrefix(ve.Problems[0], "ballot 1 ") || !strings.HasPrefix(ve.Problems[1], "ballot 4 ") {
		t.Fatalf("problems %q, want ballots 1 and 4", ve.Problems)
	}
	t.Logf("problems: %q", ve.Problems)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// A board whose key is shared by the platform and a Pedersen group (2 of 3):
// the platform and two members decrypt; both verifiers accept it, and refuse it
// when a member's partial decryption is filed under another member.
func TestVerifyAndBeleniosToolOnAThresholdBoard(t *testing.T) {
	ts, keys := thresholdTrustees(t, 2, 3)
	delete(keys, 3) // member 2 (owner 3) does not decrypt
	s := newScrutinElectionWith(t, ts, keys)
	casts, want := scrutinCasts(s)
	board := scrutinBoard(t, 1796203876, s.Election, s.Trustees, s.Credentials, s.Keys, casts, "result")
	v := verifyBoth(t, board)
	if !v.Tool.Passed() {
		t.Fatalf("belenios-tool: exit %d\n%s", v.Tool.Code, v.Tool.Output)
	}
	if v.Err != nil {
		t.Fatalf("Verify: %v", v.Err)
	}
	if got := v.Ours.PartialDecryptions; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 4 || v.Ours.Trustees != 4 {
		t.Errorf("partial decryptions of owners %v of %d, want 1, 2, 4 of 4", got, v.Ours.Trustees)
	}
	if v.Ours.Result == nil || !sameResult(v.Ours.Result, &Result{Result: want}) {
		t.Errorf("result %+v, want %v", v.Ours.Result, want)
	}

	a, err := ReadArchive(bytes.NewReader(board))
	if err != nil {
		t.Fatal(err)
	}
	bad := rewritten(func(_ testing.TB, c *Archive) {
		c.PartialDecryptions = append([]OwnedPartialDecryption(nil), c.PartialDecryptions...)
		pd := &c.PartialDecryptions[2]
		pd.Owner = 3
		pd.OwnedRaw = mustMarshal(t, Owned{Owner: 3, Payload: SHA256Hex(pd.Raw)})
	})(t, board, a)
	v = verifyBoth(t, bad)
	if v.Tool.Code != 124 {
		t.Errorf("belenios-tool on a partial decryption under the wrong member: exit %d\n%s", v.Tool.Code, v.Tool.Output)
	}
	if v.Err == nil {
		t.Error("Verify accepted a partial decryption under the wrong member")
	}
}

// An election closed without a single ballot: the tally of nothing, decrypted to
// zeros, passes both verifiers.
func TestVerifyAndBeleniosToolOnABoardWithoutBallots(t *testing.T) {
	s := newScrutinElection(t)
	board := scrutinBoard(t, 1796203876, s.Election, s.Trustees, s.Credentials, s.Keys, nil, "result")
	v := verifyBoth(t, board)
	if !v.Tool.Passed() {
		t.Fatalf("belenios-tool: exit %d\n%s", v.Tool.Code, v.Tool.Output)
	}
	if v.Err != nil {
		t.Fatalf("Verify: %v", v.Err)
	}
	if r := v.Ours; r.Ballots != 0 || r.Counted != 0 || r.Result == nil || !sameResult(r.Result, &Result{Result: [][]int64{{0, 0, 0, 0}, {0, 0, 0}}}) {
		t.Errorf("report: %d ballots, %d counted, result %+v", r.Ballots, r.Counted, r.Result)
	}
}

// onlyReader hides every method but Read: Verify reads it once.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// A seekable input (read twice, the counted ciphertexts not kept) and a plain
// reader (read once, kept) give the same report and the same problems.
func TestVerifyGivesTheSameVerdictReadOnceOrTwice(t *testing.T) {
	e, a := readToolArchive(t)
	dropped := rewritten(func(_ testing.TB, c *Archive) { c.Ballots = append(c.Ballots[:2], c.Ballots[3:]...) })(t, e.Archive, a)
	badBallot := rewritten(func(t testing.TB, c *Archive) { c.Ballots[3] = changeDigit(t, c.Ballots[3], `"alpha":"`) })(t, e.Archive, a)
	for name, board := range map[string][]byte{"good": e.Archive, "a counted ballot dropped": dropped, "a bad ballot": badBallot} {
		t.Run(name, func(t *testing.T) {
			twice, errTwice := Verify(bytes.NewReader(board))
			once, errOnce := Verify(onlyReader{bytes.NewReader(board)})
			if fmt.Sprint(errTwice) != fmt.Sprint(errOnce) {
				t.Fatalf("read twice: %v\nread once: %v", errTwice, errOnce)
			}
			if !reflect.DeepEqual(twice, once) {
				t.Fatalf("read twice: %+v\nread once: %+v", twice, once)
			}
			if name == "good" && (errTwice != nil || twice.Result == nil || twice.Counted != 3) {
				t.Fatalf("good board: %v, %+v", errTwice, twice)
			}
			if name != "good" && errTwice == nil {
				t.Fatal("a spoiled board verified")
			}
			t.Logf("%v", errTwice)
		})
	}
}
