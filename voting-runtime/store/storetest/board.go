package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The verifiable mode's board (store.Board).

func runBoard(t *testing.T, fresh, migrated func(*testing.T) store.Store) {
	t.Run("BoardSetupOnceUnderConcurrency", func(t *testing.T) { testBoardSetupOnce(t, fresh(t)) })
	t.Run("VerifiableCastBeforeSetupNoBoard", func(t *testing.T) { testVerifiableCastBeforeSetup(t, fresh(t)) })
	t.Run("VerifiableCastRefusedBeforeOpenAndAfterClose", func(t *testing.T) { testVerifiableCastShut(t, migrated(t)) })
	t.Run("VerifiableRevoteSupersedes", func(t *testing.T) { testVerifiableRevote(t, fresh(t)) })
	t.Run("VerifiableCastRefusalsStoreNothing", func(t *testing.T) { testVerifiableRefusals(t, fresh(t)) })
	t.Run("VerifiableConcurrentCastsOneVoterOneCounted", func(t *testing.T) { testVerifiableSameVoter(t, fresh(t)) })
	t.Run("VerifiableCastsRacingCloseAllOnBoard", func(t *testing.T) { testVerifiableRacingClose(t, migrated(t)) })
	t.Run("AppendBoardOncePerKey", func(t *testing.T) { testAppendBoardOnce(t, migrated(t)) })
	t.Run("BoardRecordsOrderAndAfter", func(t *testing.T) { testBoardRecordsAfter(t, migrated(t)) })
	t.Run("BoardIndexTrackersWithoutBodies", func(t *testing.T) { testBoardIndex(t, migrated(t)) })
	t.Run("BoardFollowersNeverMissARecord", func(t *testing.T) { testBoardFollowers(t, fresh(t)) })
	t.Run("VoterCredentials", func(t *testing.T) { testVoterCredentials(t, fresh(t)) })
	t.Run("ImportRollRepeatedPublicCredentialFails", func(t *testing.T) { testImportRepeatedPublicCredential(t, fresh(t)) })
}

// verifiableVoters returns n voters v0001… (weights 1, 2, 3, 1…), each with a
// public credential.
func verifiableVoters(n int) []store.Voter {
	vs := voters(n)
	for i := range vs {
		vs[i].PublicCredential = credentialOf(vs[i].ID)
	}
	return vs
}

// credentialOf is the public credential the tests give voter id.
func credentialOf(id string) string {
	return "1" + strings.Repeat("7", 8) + fmt.Sprint(len(id)) + id[1:]
}

// vballot is voter v's ballot with tracker tr.
func vballot(v store.Voter, tr string) store.VerifiableBallot {
	return store.VerifiableBallot{Body: []byte(`{"ballot":"` + tr + `"}`), Credential: v.PublicCredential,
		Weight: v.Weight, Tracker: tr}
}

const testSetup = `{"election":"e","trustees":"t","credentials":"c"}`

func initBoard(t *testing.T, s store.Store) {
	t.Helper()
	if got, err := s.InitBoard(t.Context(), []byte(testSetup)); err != nil || string(got) != testSetup {
		t.Fatalf("InitBoard = %q, %v", got, err)
	}
}

// records is the whole board.
func records(t *testing.T, s store.Store) []store.BoardRecord {
	t.Helper()
	var rs []store.BoardRecord
	if err := s.BoardRecords(t.Context(), 0, func(r store.BoardRecord) error {
		rs = append(rs, r)
		return nil
	}); err != nil {
		t.Fatalf("BoardRecords: %v", err)
	}
	return rs
}

// counted is every counted ballot, in the order CountedBallots gives them.
func counted(t *testing.T, s store.Store) []store.VerifiableBallot {
	t.Helper()
	var bs []store.VerifiableBallot
	if err := s.CountedBallots(t.Context(), func(b store.VerifiableBallot) error {
		bs = append(bs, b)
		return nil
	}); err != nil {
		t.Fatalf("CountedBallots: %v", err)
	}
	return bs
}

// closeNow moves closesAt to just now and records the close.
func closeNow(t *testing.T, s store.Store) {
	t.Helper()
	st := recorded(t, s)
	sc := store.Schedule{OpensAt: time.Now().Add(-2 * time.Hour).Truncate(time.Microsecond).UTC(),
		ClosesAt: time.Now().Add(-time.Millisecond).Truncate(time.Microsecond).UTC(), Version: st.Schedule.Version + 1}
	must(t, mustApply(s.SetSchedule(t.Context(), sc)))
	closeWhenDue(t, s)
}

// trackersOf lists the ballots' trackers, in order.
func trackersOf(rs []store.BoardRecord) []string {
	var trs []string
	for _, r := range rs {
		if r.Kind == store.BoardBallot {
			trs = append(trs, strings.TrimSuffix(strings.TrimPrefix(string(r.Body), `{"ballot":"`), `"}`))
		}
	}
	return trs
}

// checkSeqs checks that seqs start at 1 and increase, and that the setup is first.
func checkSeqs(t *testing.T, rs []store.BoardRecord) {
	t.Helper()
	for i, r := range rs {
		if i > 0 && r.Seq <= rs[i-1].Seq {
			t.Errorf("record %d has seq %d after %d", i, r.Seq, rs[i-1].Seq)
		}
		if (i == 0) != (r.Kind == store.BoardSetup) {
			t.Errorf("record %d (seq %d) is a %q", i, r.Seq, r.Kind)
		}
	}
}

// testBoardSetupOnce: 8 callers, from separate Stores when the store can be
// reopened, set the board up at once with different setups: one wins, and every
// caller gets its bytes back.
func testBoardSetupOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.BoardSetup(ctx); !errors.Is(err, store.ErrNoBoard) {
		t.Errorf("BoardSetup before InitBoard: %v, want ErrNoBoard", err)
	}
	if rs := records(t, s); len(rs) != 0 {
		t.Errorf("BoardRecords before InitBoard: %d records", len(rs))
	}
	stores := make([]store.Store, 8)
	for i := range stores {
		stores[i] = s
		if r, ok := s.(Reopener); ok && i%2 == 1 {
			stores[i] = r.Reopen(t)
		}
	}
	got := make([][]byte, len(stores))
	errs := parallel(len(stores), func(i int) error {
		var err error
		got[i], err = stores[i].InitBoard(ctx, []byte(fmt.Sprintf(`{"setup":%d}`, i)))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("InitBoard %d: %v", i, err)
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("InitBoard %d returned %s, another %s", i, got[i], got[0])
		}
	}
	if !bytes.HasPrefix(got[0], []byte(`{"setup":`)) {
		t.Errorf("the recorded setup %q is none of the callers'", got[0])
	}
	if b, err := s.BoardSetup(ctx); err != nil || !bytes.Equal(b, got[0]) {
		t.Errorf("BoardSetup = %s, %v; want %s", b, err, got[0])
	}
	if again, err := s.InitBoard(ctx, []byte("later")); err != nil || !bytes.Equal(again, got[0]) {
		t.Errorf("a later InitBoard = %s, %v; want the first setup", again, err)
	}
	rs := records(t, s)
	if len(rs) != 1 || rs[0].Kind != store.BoardSetup || !bytes.Equal(rs[0].Body, got[0]) || rs[0].Owner != 0 {
		t.Errorf("the board = %+v; want the one setup record", rs)
	}
}

// testVerifiableCastBeforeSetup: no cast before the board is set up.
func testVerifiableCastBeforeSetup(t *testing.T, s store.Store) {
	vs := verifiableVoters(1)
	importRoll(t, s, vs, "d")
	if err := s.CastVerifiable(t.Context(), vs[0].ID, vballot(vs[0], "t")); !errors.Is(err, store.ErrNoBoard) {
		t.Errorf("CastVerifiable before InitBoard: %v, want ErrNoBoard", err)
	}
	if voted, _ := s.HasVoted(t.Context(), vs[0].ID); voted {
		t.Error("a refused cast marked the voter")
	}
	initBoard(t, s)
	if rs := records(t, s); len(rs) != 1 {
		t.Errorf("the board holds %d records, want the setup alone", len(rs))
	}
}

// testVerifiableCastShut: with no schedule, before opensAt, after closesAt and
// after the close, a verifiable cast is refused as Cast is and stores nothing.
func testVerifiableCastShut(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(4)
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	if err := s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t-none")); !errors.Is(err, store.ErrNotOpen) {
		t.Errorf("CastVerifiable with no schedule: %v, want ErrNotOpen", err)
	}
	must(t, mustApply(s.SetSchedule(ctx, schedule(time.Hour, 2*time.Hour, 1))))
	if err := s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t-early")); !errors.Is(err, store.ErrNotOpen) {
		t.Errorf("CastVerifiable before opensAt: %v, want ErrNotOpen", err)
	}
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Hour, 300*time.Millisecond, 2))))
	must(t, s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t-open")))
	time.Sleep(time.Until(recorded(t, s).Schedule.ClosesAt) + 50*time.Millisecond)
	if err := s.CastVerifiable(ctx, vs[1].ID, vballot(vs[1], "t-late")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("CastVerifiable after closesAt: %v, want ErrClosed", err)
	}
	closeWhenDue(t, s)
	if err := s.CastVerifiable(ctx, vs[2].ID, vballot(vs[2], "t-closed")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("CastVerifiable after the close: %v, want ErrClosed", err)
	}
	if err := s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t-revote")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("a re-vote after the close: %v, want ErrClosed", err)
	}
	if got := trackersOf(records(t, s)); !slices.Equal(got, []string{"t-open"}) {
		t.Errorf("ballots on the board: %v; want [t-open]", got)
	}
	for _, v := range vs[1:] {
		if voted, _ := s.HasVoted(ctx, v.ID); voted {
			t.Errorf("%s is marked as having voted after a refused cast", v.ID)
		}
	}
	if bs := counted(t, s); len(bs) != 1 || bs[0].Tracker != "t-open" {
		t.Errorf("counted: %+v; want t-open alone", bs)
	}
}

// testVerifiableRevote: a second cast is accepted and supersedes the first;
// both are on the board in arrival order, the last one is counted.
func testVerifiableRevote(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(3)
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	must(t, s.CastVerifiable(ctx, vs[1].ID, vballot(vs[1], "b-first")))
	must(t, s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "a-only")))
	if err := s.CountedBallots(ctx, func(store.VerifiableBallot) error { return nil }); !errors.Is(err, store.ErrNotClosedYet) {
		t.Errorf("CountedBallots before the close: %v, want ErrNotClosedYet", err)
	}
	must(t, s.CastVerifiable(ctx, vs[1].ID, vballot(vs[1], "b-second")))
	for i, want := range []bool{true, true, false} {
		if voted, err := s.HasVoted(ctx, vs[i].ID); err != nil || voted != want {
			t.Errorf("HasVoted(%s) = %v, %v; want %v", vs[i].ID, voted, err, want)
		}
	}
	if n, c := counts(t, s); n != 3 || c != 2 {
		t.Errorf("Counts = %d, %d; want 3 voters, 2 who voted", n, c)
	}
	rs := records(t, s)
	checkSeqs(t, rs)
	if got := trackersOf(rs); !slices.Equal(got, []string{"b-first", "a-only", "b-second"}) {
		t.Errorf("ballots on the board: %v; want every cast in arrival order", got)
	}
	if bs, err := s.Ballots(ctx); err != nil || len(bs) != 0 {
		t.Errorf("the plain box holds %d ballots (%v); want none", len(bs), err)
	}
	if _, err := s.ImportRoll(ctx, "d2", Entries(verifiableVoters(4))); !errors.Is(err, store.ErrRollLocked) {
		t.Errorf("ImportRoll of another roll after verifiable casts: %v, want ErrRollLocked", err)
	}
	closeNow(t, s)
	want := []store.VerifiableBallot{vballot(vs[0], "a-only"), vballot(vs[1], "b-second")}
	if got := counted(t, s); !slices.EqualFunc(got, want, sameVerifiable) {
		t.Errorf("counted = %+v; want %+v (board order, the last of each voter)", got, want)
	}
}

func sameVerifiable(a, b store.VerifiableBallot) bool {
	return bytes.Equal(a.Body, b.Body) && a.Credential == b.Credential && a.Weight == b.Weight && a.Tracker == b.Tracker
}

// testVerifiableRefusals: a voter not on the roll, a credential not the
// voter's, and a ballot already on the board are refused and store nothing.
func testVerifiableRefusals(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(3)
	vs[2].PublicCredential = ""
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	if err := s.CastVerifiable(ctx, "intruder", vballot(vs[0], "t-intruder")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a voter not on the roll: %v, want ErrNotFound", err)
	}
	if err := s.CastVerifiable(ctx, vs[1].ID, vballot(vs[0], "t-other")); !errors.Is(err, store.ErrNotVotersCredential) {
		t.Errorf("another voter's credential: %v, want ErrNotVotersCredential", err)
	}
	if err := s.CastVerifiable(ctx, vs[2].ID, vballot(vs[0], "t-none")); !errors.Is(err, store.ErrNotVotersCredential) {
		t.Errorf("a voter with no public credential: %v, want ErrNotVotersCredential", err)
	}
	must(t, s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t-a")))
	if err := s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t-a")); !errors.Is(err, store.ErrBallotOnBoard) {
		t.Errorf("the same ballot again: %v, want ErrBallotOnBoard", err)
	}
	if got := trackersOf(records(t, s)); !slices.Equal(got, []string{"t-a"}) {
		t.Errorf("ballots on the board: %v; want [t-a]", got)
	}
	for _, v := range vs[1:] {
		if voted, _ := s.HasVoted(ctx, v.ID); voted {
			t.Errorf("%s is marked as having voted after a refused cast", v.ID)
		}
	}
}

// testVerifiableSameVoter: one voter casts 40 ballots at once (from separate
// Stores when the store can be reopened): all are on the board, exactly one is
// counted, the one with the highest seq.
func testVerifiableSameVoter(t *testing.T, s store.Store) {
	const n = 40
	ctx := t.Context()
	vs := verifiableVoters(2)
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	stores := []store.Store{s, s, s, s}
	if r, ok := s.(Reopener); ok {
		stores[1], stores[3] = r.Reopen(t), r.Reopen(t)
	}
	errs := parallel(n, func(i int) error {
		return stores[i%len(stores)].CastVerifiable(ctx, vs[0].ID, vballot(vs[0], fmt.Sprintf("t%03d", i)))
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("cast %d: %v", i, err)
		}
	}
	rs := records(t, s)
	checkSeqs(t, rs)
	trs := trackersOf(rs)
	if len(trs) != n || len(rs) != n+1 {
		t.Fatalf("%d ballots on the board (%d records); want all %d", len(trs), len(rs), n)
	}
	if _, c := counts(t, s); c != 1 {
		t.Errorf("%d voters voted, want 1", c)
	}
	closeNow(t, s)
	got := counted(t, s)
	if len(got) != 1 || got[0].Tracker != trs[n-1] || !sameVerifiable(got[0], vballot(vs[0], trs[n-1])) {
		t.Errorf("counted = %+v; want the last on the board, %s", got, trs[n-1])
	}
}

// testVerifiableRacingClose: 16 workers cast for 100 voters, round and round
// (voters re-vote), until the box is closed under them. When SetClosed
// returns, every acknowledged ballot is on the board; the close's records
// follow every ballot; and the counted ballots are exactly the last ballot on
// the board of each voter who has one.
func testVerifiableRacingClose(t *testing.T, s store.Store) {
	const n, workers = 100, 16
	ctx := t.Context()
	vs := verifiableVoters(n)
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Hour, 250*time.Millisecond, 1))))
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				i := int(k % n)
				tr := fmt.Sprintf("t-%03d-%d", i, k)
				if err := s.CastVerifiable(ctx, vs[i].ID, vballot(vs[i], tr)); err != nil {
					if !errors.Is(err, store.ErrClosed) {
						t.Errorf("CastVerifiable(%s): %v", vs[i].ID, err)
					}
					return
				}
				mu.Lock()
				acked[tr] = true
				mu.Unlock()
			}
		})
	}
	closeWhenDue(t, s)
	// the board read the moment the close returns holds every acknowledged ballot
	atClose := map[string]bool{}
	for _, tr := range trackersOf(records(t, s)) {
		atClose[tr] = true
	}
	wg.Wait()
	for tr := range acked {
		if !atClose[tr] {
			t.Errorf("%s was acknowledged but is not on the board read when the close returned", tr)
		}
	}
	if ok, err := s.AppendBoard(ctx, "end-ballots", store.BoardRecord{Kind: store.BoardEndBallots, Body: []byte{}}); err != nil || !ok {
		t.Fatalf("AppendBoard(end-ballots) = %v, %v", ok, err)
	}
	rs := records(t, s)
	checkSeqs(t, rs)
	last := map[string]string{} // voter -> tracker of their last ballot on the board
	ended := false
	for _, r := range rs {
		switch r.Kind {
		case store.BoardEndBallots:
			ended = true
		case store.BoardBallot:
			if ended {
				t.Errorf("a ballot follows end-ballots: %s", r.Body)
			}
			tr := trackersOf([]store.BoardRecord{r})[0]
			if !acked[tr] {
				t.Errorf("%s is on the board but was never acknowledged", tr)
			}
			last["v"+tr[2:5]] = tr
		}
	}
	if got := len(trackersOf(rs)); got != len(acked) {
		t.Errorf("%d ballots on the board, %d acknowledged", got, len(acked))
	}
	got := counted(t, s)
	if len(got) != len(last) {
		t.Errorf("%d counted ballots, %d voters with a ballot on the board", len(got), len(last))
	}
	for _, b := range got {
		if last["v"+b.Tracker[2:5]] != b.Tracker {
			t.Errorf("counted %s; the voter's last ballot on the board is %s", b.Tracker, last["v"+b.Tracker[2:5]])
		}
	}
	t.Logf("%d casts acknowledged, by %d voters", len(acked), len(last))
}

// testAppendBoardOnce: the close's records go on the board after the close
// only, once per key whatever the concurrency, in order, and nothing follows
// the result.
func testAppendBoardOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(2)
	importRoll(t, s, vs, "d")
	end := store.BoardRecord{Kind: store.BoardEndBallots, Body: []byte{}}
	if _, err := s.AppendBoard(ctx, "end-ballots", end); !errors.Is(err, store.ErrNotClosedYet) {
		t.Errorf("AppendBoard before the close (no schedule): %v, want ErrNotClosedYet", err)
	}
	OpenBox(t, s)
	initBoard(t, s)
	must(t, s.CastVerifiable(ctx, vs[0].ID, vballot(vs[0], "t0")))
	if _, err := s.AppendBoard(ctx, "end-ballots", end); !errors.Is(err, store.ErrNotClosedYet) {
		t.Errorf("AppendBoard while open: %v, want ErrNotClosedYet", err)
	}
	for _, r := range []store.BoardRecord{{Kind: store.BoardBallot, Body: []byte("x")}, {Kind: store.BoardSetup, Body: []byte("x")}} {
		if _, err := s.AppendBoard(ctx, "k-"+r.Kind, r); err == nil {
			t.Errorf("AppendBoard accepted a %s record", r.Kind)
		}
	}
	closeNow(t, s)
	stores := make([]store.Store, 8)
	for i := range stores {
		stores[i] = s
		if r, ok := s.(Reopener); ok && i%2 == 1 {
			stores[i] = r.Reopen(t)
		}
	}
	appended := make([]bool, len(stores))
	errs := parallel(len(stores), func(i int) error {
		var err error
		appended[i], err = stores[i].AppendBoard(ctx, "end-ballots", end,
			store.BoardRecord{Kind: store.BoardEncryptedTally, Body: []byte(fmt.Sprintf("tally-%d", i))})
		return err
	})
	wins := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("AppendBoard %d: %v", i, err)
		}
		if appended[i] {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%d concurrent AppendBoard(end-ballots) appended; want exactly 1", wins)
	}
	pd := func(owner int) store.BoardRecord {
		return store.BoardRecord{Kind: store.BoardPartialDecryption, Owner: owner, Body: []byte(fmt.Sprintf("pd-%d", owner))}
	}
	for _, step := range []struct {
		key  string
		rec  store.BoardRecord
		want bool
	}{{"pd-2", pd(2), true}, {"pd-1", pd(1), true}, {"pd-2", pd(2), false}} {
		if ok, err := s.AppendBoard(ctx, step.key, step.rec); err != nil || ok != step.want {
			t.Errorf("AppendBoard(%s) = %v, %v; want %v", step.key, ok, err, step.want)
		}
	}
	result := store.BoardRecord{Kind: store.BoardResult, Body: []byte(`{"result":[[1]]}`)}
	if ok, err := s.AppendBoard(ctx, store.BoardKeyResult, result); err != nil || !ok {
		t.Errorf("AppendBoard(result) = %v, %v", ok, err)
	}
	if ok, err := s.AppendBoard(ctx, store.BoardKeyResult, result); err != nil || ok {
		t.Errorf("AppendBoard(result) again = %v, %v; want false, nil (idempotent)", ok, err)
	}
	if _, err := s.AppendBoard(ctx, "pd-3", pd(3)); !errors.Is(err, store.ErrBoardFinished) {
		t.Errorf("AppendBoard after the result: %v, want ErrBoardFinished", err)
	}
	rs := records(t, s)
	checkSeqs(t, rs)
	var kinds []string
	for _, r := range rs {
		kinds = append(kinds, fmt.Sprintf("%s/%d", r.Kind, r.Owner))
	}
	want := []string{"setup/0", "ballot/0", "end-ballots/0", "encrypted-tally/0", "partial-decryption/2",
		"partial-decryption/1", "result/0"}
	if !slices.Equal(kinds, want) {
		t.Errorf("the board's records: %v; want %v", kinds, want)
	}
	if len(rs) == len(want) && (!bytes.Equal(rs[4].Body, []byte("pd-2")) || !bytes.Equal(rs[6].Body, result.Body)) {
		t.Errorf("bodies changed: %q, %q", rs[4].Body, rs[6].Body)
	}
}

// testBoardRecordsAfter: BoardRecords streams in seq order from after, and
// stops at the first error of its function.
func testBoardRecordsAfter(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(5)
	importRoll(t, s, vs, "d")
	OpenBox(t, s)
	initBoard(t, s)
	for i, v := range vs {
		must(t, s.CastVerifiable(ctx, v.ID, vballot(v, fmt.Sprintf("t%d", i))))
	}
	all := records(t, s)
	checkSeqs(t, all)
	if len(all) != 6 {
		t.Fatalf("%d records, want 6", len(all))
	}
	for _, cut := range []int{0, 1, 3, 6} {
		after := int64(0)
		if cut > 0 {
			after = all[cut-1].Seq
		}
		var got []int64
		must(t, s.BoardRecords(ctx, after, func(r store.BoardRecord) error { got = append(got, r.Seq); return nil }))
		var want []int64
		for _, r := range all[cut:] {
			want = append(want, r.Seq)
		}
		if !slices.Equal(got, want) {
			t.Errorf("BoardRecords after %d: %v, want %v", after, got, want)
		}
	}
	stop := errors.New("enough")
	seen := 0
	err := s.BoardRecords(ctx, 0, func(store.BoardRecord) error {
		seen++
		if seen == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 2 {
		t.Errorf("BoardRecords with a failing function: %v after %d records; want its error after 2", err, seen)
	}
}

// testBoardIndex: BoardIndex gives the records of BoardRecords, in the same
// order and after the same seq, each without its body, a ballot with its
// tracker (a re-vote's both ballots included), and the records of the close
// with their owner.
func testBoardIndex(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(3)
	importRoll(t, s, vs, "d")
	OpenBox(t, s)
	initBoard(t, s)
	for _, c := range []struct {
		v  int
		tr string
	}{{1, "b-first"}, {0, "a-only"}, {1, "b-second"}, {2, "c-only"}} {
		must(t, s.CastVerifiable(ctx, vs[c.v].ID, vballot(vs[c.v], c.tr)))
	}
	closeNow(t, s)
	pd := store.BoardRecord{Kind: store.BoardPartialDecryption, Owner: 2, Body: []byte("pd")}
	if _, err := s.AppendBoard(ctx, "close", store.BoardRecord{Kind: store.BoardEndBallots, Body: []byte{}}, pd); err != nil {
		t.Fatalf("AppendBoard: %v", err)
	}
	all := records(t, s)
	index := func(after int64) []store.BoardRecord {
		var got []store.BoardRecord
		must(t, s.BoardIndex(ctx, after, func(r store.BoardRecord) error { got = append(got, r); return nil }))
		return got
	}
	got := index(0)
	if len(got) != len(all) || len(all) != 7 {
		t.Fatalf("BoardIndex gave %d records, BoardRecords %d; want 7 each", len(got), len(all))
	}
	var trackers []string
	for i, r := range got {
		w := all[i]
		if r.Seq != w.Seq || r.Kind != w.Kind || r.Owner != w.Owner || r.Body != nil {
			t.Errorf("index record %d = %+v; want seq %d, kind %s, owner %d and no body", i, r, w.Seq, w.Kind, w.Owner)
		}
		if (r.Kind == store.BoardBallot) != (r.Tracker != "") {
			t.Errorf("index record %d (%s) has tracker %q", i, r.Kind, r.Tracker)
		}
		if r.Tracker != "" {
			trackers = append(trackers, r.Tracker)
		}
	}
	if want := trackersOf(all); !slices.Equal(trackers, want) {
		t.Errorf("trackers of the index %v; want the ballots' %v in arrival order", trackers, want)
	}
	if tail := index(all[2].Seq); len(tail) != 4 || tail[0].Seq != all[3].Seq || tail[0].Tracker != "b-second" {
		t.Errorf("BoardIndex after seq %d = %+v; want the 4 records from %d (b-second)", all[2].Seq, tail, all[3].Seq)
	}
	if tail := index(all[6].Seq); len(tail) != 0 {
		t.Errorf("BoardIndex after the last seq = %+v; want nothing", tail)
	}
	stop := errors.New("enough")
	if err := s.BoardIndex(ctx, 0, func(store.BoardRecord) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("BoardIndex with a failing function: %v; want its error", err)
	}
}

// testBoardFollowers: while 16 workers cast (from separate Stores when the
// store can be reopened), 3 followers read the board again and again from the
// last seq they saw, as an auditor following the board would. Once the casts
// are over, what each follower has read is exactly the board, record for
// record: no record ever appears below a seq already read.
func testBoardFollowers(t *testing.T, s store.Store) {
	const n, workers, followers, casts = 50, 16, 3, 400
	ctx := t.Context()
	vs := verifiableVoters(n)
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	stores := []store.Store{s, s}
	if r, ok := s.(Reopener); ok {
		stores[1] = r.Reopen(t)
	}
	var next atomic.Int64
	var done atomic.Bool
	var casters, readers sync.WaitGroup
	for w := range workers {
		casters.Go(func() {
			for k := next.Add(1) - 1; k < casts; k = next.Add(1) - 1 {
				v := vs[k%n]
				if err := stores[w%2].CastVerifiable(ctx, v.ID, vballot(v, fmt.Sprintf("t-%d", k))); err != nil {
					t.Errorf("CastVerifiable: %v", err)
					return
				}
			}
		})
	}
	seen := make([][]int64, followers)
	for f := range followers {
		readers.Go(func() {
			last := int64(0)
			for final := false; ; {
				final = done.Load()
				err := stores[f%2].BoardRecords(ctx, last, func(r store.BoardRecord) error {
					seen[f] = append(seen[f], r.Seq)
					last = r.Seq
					return nil
				})
				if err != nil {
					t.Errorf("follower %d: BoardRecords: %v", f, err)
					return
				}
				if final {
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	casters.Wait()
	done.Store(true)
	readers.Wait()
	var all []int64
	for _, r := range records(t, s) {
		all = append(all, r.Seq)
	}
	if len(all) != casts+1 {
		t.Errorf("%d records on the board, want %d", len(all), casts+1)
	}
	for f, got := range seen {
		if !slices.Equal(got, all) {
			t.Errorf("follower %d read %d records, the board holds %d: a record appeared below one already read", f, len(got), len(all))
		}
	}
}

// testVoterCredentials: public credentials are imported with the roll, read
// back with the voter and the participation export, and listed in voter id
// order, voters without one skipped.
func testVoterCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(5)
	vs[3].PublicCredential = ""
	order := []store.Voter{vs[4], vs[0], vs[3], vs[2], vs[1]}
	importRoll(t, s, order, "d")
	for _, v := range vs {
		if got, err := s.Voter(ctx, v.ID); err != nil || !sameVoter(got, v) {
			t.Errorf("Voter(%s) = %+v, %v; want %+v", v.ID, got, err, v)
		}
	}
	ps, err := s.Participation(ctx)
	must(t, err)
	for i, p := range ps {
		if p.Voter.PublicCredential != vs[i].PublicCredential {
			t.Errorf("Participation's %s has public credential %q, want %q", p.Voter.ID, p.Voter.PublicCredential, vs[i].PublicCredential)
		}
	}
	var got []string
	must(t, s.VoterCredentials(ctx, func(c string, w int64) error {
		got = append(got, fmt.Sprintf("%s,%d", c, w))
		return nil
	}))
	var want []string
	for _, v := range vs {
		if v.PublicCredential != "" {
			want = append(want, fmt.Sprintf("%s,%d", v.PublicCredential, v.Weight))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("VoterCredentials = %v; want %v", got, want)
	}
}

// testImportRepeatedPublicCredential: two voters never share a public
// credential; such a roll is refused and the one imported stays.
func testImportRepeatedPublicCredential(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := verifiableVoters(3)
	importRoll(t, s, vs, "d1")
	next := verifiableVoters(4)
	next[3].PublicCredential = next[1].PublicCredential
	if imported, err := s.ImportRoll(ctx, "d2", Entries(next)); err == nil || imported {
		t.Errorf("ImportRoll with a repeated public credential: %v, %v; want an error", imported, err)
	} else if !strings.Contains(err.Error(), "public credential") {
		t.Errorf("the error %q does not name the public credential", err)
	}
	if d, _ := s.RollDigest(ctx); d != "d1" {
		t.Errorf("RollDigest = %q, want d1", d)
	}
	if n, _ := counts(t, s); n != 3 {
		t.Errorf("%d voters after the refused import, want 3", n)
	}
}

// VerifiableCasterEnv names the database (a file or a DSN) that the helper
// process of CastVerifiableKilled9 casts into.
const VerifiableCasterEnv = "STORETEST_VERIFIABLE_CASTER_DB"

// killVoters is the roll of CastVerifiableKilled9: few enough that voters
// re-vote many times before the kill.
const killVoters = 50

// CastVerifiableKilled9 prepares db (a migrated, empty database, reachable
// through s) with a roll, a board and an open box; runs the test binary's
// helper (one that calls CastVerifiableUntilKilled) with VerifiableCasterEnv
// set to db; kills it with SIGKILL once it has acknowledged 300 casts; then,
// through reopen, closes the box and checks that every acknowledged ballot is
// on the board and that each voter with a ballot there has exactly one counted
// ballot, their last one.
func CastVerifiableKilled9(t *testing.T, helper, db string, s store.Store, reopen func(t *testing.T) store.Store) {
	t.Helper()
	vs := verifiableVoters(killVoters)
	importRoll(t, s, vs, "d")
	initBoard(t, s)
	OpenBox(t, s)
	acked := KillAfterAcks(t, helper, VerifiableCasterEnv, db, 300)

	s = reopen(t)
	closeNow(t, s)
	rs := records(t, s)
	checkSeqs(t, rs)
	onBoard := map[string]bool{}
	last := map[string]string{}
	for _, tr := range trackersOf(rs) {
		onBoard[tr] = true
		last[strings.SplitN(tr, "-", 3)[1]] = tr
	}
	for tr := range acked {
		if !onBoard[tr] {
			t.Errorf("%s was acknowledged but is not on the board", tr)
		}
	}
	got := counted(t, s)
	if len(got) != len(last) {
		t.Errorf("%d counted ballots, %d voters with a ballot on the board", len(got), len(last))
	}
	for _, b := range got {
		if v := strings.SplitN(b.Tracker, "-", 3)[1]; last[v] != b.Tracker {
			t.Errorf("%s's counted ballot is %s, their last on the board %s", v, b.Tracker, last[v])
		}
	}
	if _, c := counts(t, s); c != int64(len(last)) {
		t.Errorf("%d voters marked as having voted, %d with a ballot on the board", c, len(last))
	}
	t.Logf("%d casts acknowledged before SIGKILL, %d ballots on the board, %d counted", len(acked), len(onBoard), len(got))
}

// CastVerifiableUntilKilled is the process CastVerifiableKilled9 kills: 4
// goroutines cast for voter after voter, round and round (each voter re-votes),
// printing "cast <tracker>" once each cast has returned.
func CastVerifiableUntilKilled(t *testing.T, s store.Store) {
	vs := verifiableVoters(killVoters)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				v := vs[i%killVoters]
				tr := fmt.Sprintf("k-%s-%d", v.ID, i)
				if err := s.CastVerifiable(t.Context(), v.ID, vballot(v, tr)); err != nil {
					t.Errorf("CastVerifiable: %v", err)
					return
				}
				mu.Lock()
				fmt.Printf("cast %s\n", tr)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
