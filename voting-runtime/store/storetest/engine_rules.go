package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// The rules below are those the engine (voting-runtime/engine) relies on when
// several replicas share one store: each is checked from several Stores on one
// database (see Reopener), as separate processes would use it, or from
// goroutines on one Store when it cannot be reopened.

// runEngineRules runs the tests of this file.
func runEngineRules(t *testing.T, fresh, migrated func(*testing.T) store.Store) {
	t.Run("StepsRecordedOnceAcrossReplicas", func(t *testing.T) { testStepsOnce(t, migrated(t)) })
	t.Run("OneBallotPerVoterAcrossReplicas", func(t *testing.T) { testOneBallotAcrossReplicas(t, fresh(t)) })
	t.Run("CastAfterTheCloseFailsOnEveryReplica", func(t *testing.T) { testCloseSeenByEveryReplica(t, migrated(t)) })
	t.Run("RollLockedByTheFirstBallotNotByTheOpening", func(t *testing.T) { testRollLockedByTheFirstBallot(t, fresh(t)) })
	t.Run("AuditChainAcrossReplicas", func(t *testing.T) { testAuditAcrossReplicas(t, fresh(t)) })
	t.Run("KeysAcrossReplicasOneValue", func(t *testing.T) { testKeysAcrossReplicas(t, fresh(t)) })
	t.Run("SessionOutlivesItsCode", func(t *testing.T) { testSessionOutlivesItsCode(t, fresh(t)) })
	t.Run("TheScheduleAloneOpensAndClosesTheBox", func(t *testing.T) { testScheduleAlone(t, migrated(t)) })
}

// replicas returns n Stores on s's database: s, then Stores reopened on it (at
// most 3; the others repeat them), or s n times when it cannot be reopened.
func replicas(t *testing.T, s store.Store, n int) []store.Store {
	t.Helper()
	distinct := []store.Store{s}
	if r, ok := s.(Reopener); ok {
		for range min(n, 4) - 1 {
			distinct = append(distinct, r.Reopen(t))
		}
	} else {
		t.Log("the store cannot be reopened: goroutines share one Store")
	}
	out := make([]store.Store, n)
	for i := range out {
		out[i] = distinct[i%len(distinct)]
	}
	return out
}

// testStepsOnce: SetOpened, SetClosed and SetResults, called by every replica at
// once, each report the step made by exactly one of them (the one that audits
// it), and a recorded step never changes (the first results stay).
func testStepsOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	rs := replicas(t, s, n)
	// a schedule whose closing time has passed: the close is due
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Hour, -time.Second, 1))))
	once := func(what string, step func(i int) (bool, error)) int {
		t.Helper()
		made := make([]bool, n)
		errs := parallel(n, func(i int) (err error) {
			made[i], err = step(i)
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s on replica %d: %v", what, i, err)
			}
		}
		winner, count := -1, 0
		for i, m := range made {
			if m {
				winner, count = i, count+1
			}
		}
		if count != 1 {
			t.Errorf("%s: %d replicas report they made the step, want exactly 1", what, count)
		}
		return winner
	}
	once("SetOpened", func(i int) (bool, error) { return rs[i].SetOpened(ctx) })
	once("SetClosed", func(i int) (bool, error) { return rs[i].SetClosed(ctx) })
	results := func(i int) []byte { return fmt.Appendf(nil, `{"counted-by":%d}`, i) }
	winner := once("SetResults", func(i int) (bool, error) { return rs[i].SetResults(ctx, results(i)) })
	if winner < 0 {
		return
	}
	if made, err := rs[n-1].SetResults(ctx, []byte(`{"late":true}`)); err != nil || made {
		t.Errorf("SetResults after the results are recorded: made=%v, %v; want false", made, err)
	}
	for i, r := range rs[:min(n, 4)] {
		st, err := r.State(ctx)
		if err != nil || !st.Opened || !st.Closed || !bytes.Equal(st.Results, results(winner)) {
			t.Errorf("replica %d's State = opened %v, closed %v, results %s, %v; want the first results, %s",
				i, st.Opened, st.Closed, st.Results, err, results(winner))
		}
	}
}

// testOneBallotAcrossReplicas: every replica casts for the same voters at once;
// each voter's ballot is in the box once, and the box holds exactly the ballots
// acknowledged.
func testOneBallotAcrossReplicas(t *testing.T, s store.Store) {
	ctx := t.Context()
	const perVoter = 8
	vs := voters(3)
	importRoll(t, s, vs, "d")
	rs := replicas(t, s, perVoter)
	errs := parallel(len(vs)*perVoter, func(i int) error {
		v, r := i/perVoter, i%perVoter
		return rs[r].Cast(ctx, vs[v].ID, ballot(fmt.Sprintf("t-%d-%d", v, r)))
	})
	var acknowledged []string
	for i, err := range errs {
		v, r := i/perVoter, i%perVoter
		switch {
		case err == nil:
			acknowledged = append(acknowledged, fmt.Sprintf("t-%d-%d", v, r))
		case !errors.Is(err, store.ErrAlreadyVoted):
			t.Errorf("Cast for %s on replica %d: %v, want nil or ErrAlreadyVoted", vs[v].ID, r, err)
		}
	}
	if len(acknowledged) != len(vs) {
		t.Errorf("%d casts acknowledged (%v), want one per voter (%d)", len(acknowledged), acknowledged, len(vs))
	}
	for v := range vs {
		n := 0
		for _, tr := range acknowledged {
			if strings.HasPrefix(tr, fmt.Sprintf("t-%d-", v)) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has %d acknowledged ballots, want 1", vs[v].ID, n)
		}
	}
	bs, err := rs[1].Ballots(ctx)
	must(t, err)
	var inBox []string
	for _, b := range bs {
		inBox = append(inBox, b.Tracker)
	}
	slices.Sort(acknowledged)
	if !slices.Equal(inBox, acknowledged) {
		t.Errorf("the box holds %v, want exactly the acknowledged %v", inBox, acknowledged)
	}
	if n, c := counts(t, rs[2]); n != int64(len(vs)) || c != int64(len(vs)) {
		t.Errorf("Counts = %d, %d; want %d, %d", n, c, len(vs), len(vs))
	}
}

// testCloseSeenByEveryReplica: once one replica records the close, a Cast on any
// other fails with ErrClosed in the store itself (no replica's memory of the
// schedule is asked), stores nothing, and no later schedule reopens the box.
func testCloseSeenByEveryReplica(t *testing.T, s store.Store) {
	ctx := t.Context()
	rs := replicas(t, s, 3)
	vs := voters(3)
	importRoll(t, s, vs, "d")
	must(t, mustApply(rs[0].SetSchedule(ctx, schedule(-time.Hour, 300*time.Millisecond, 1))))
	must(t, rs[2].Cast(ctx, vs[0].ID, ballot("t0")))
	closeWhenDue(t, rs[1])
	if err := rs[2].Cast(ctx, vs[1].ID, ballot("t1")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Cast on another replica after the close: %v, want ErrClosed", err)
	}
	if _, err := rs[2].SetSchedule(ctx, schedule(-time.Hour, time.Hour, 2)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("a later schedule after the close: %v, want ErrClosed", err)
	}
	if err := rs[0].Cast(ctx, vs[2].ID, ballot("t2")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Cast after a schedule move was tried: %v, want ErrClosed", err)
	}
	for _, v := range vs[1:] {
		if voted, err := rs[1].HasVoted(ctx, v.ID); err != nil || voted {
			t.Errorf("HasVoted(%s) after a refused Cast = %v, %v; want false", v.ID, voted, err)
		}
	}
	if bs, err := rs[1].Ballots(ctx); err != nil || len(bs) != 1 || bs[0].Tracker != "t0" {
		t.Errorf("Ballots = %+v, %v; want only t0", bs, err)
	}
}

// testRollLockedByTheFirstBallot: the opening does not lock the roll (a roll
// corrected before anyone voted is taken); the first ballot, cast on any
// replica, does, and a refused import leaves the roll as it was.
func testRollLockedByTheFirstBallot(t *testing.T, s store.Store) {
	ctx := t.Context()
	rs := replicas(t, s, 3)
	importRoll(t, rs[0], voters(2), "d1")
	if _, err := rs[0].SetOpened(ctx); err != nil {
		t.Fatal(err)
	}
	vs := voters(3)
	if imported, err := rs[1].ImportRoll(ctx, "d2", Entries(vs)); err != nil || !imported {
		t.Fatalf("ImportRoll once opened, before any ballot: imported=%v, %v; want imported", imported, err)
	}
	must(t, rs[2].Cast(ctx, vs[2].ID, ballot("t")))
	if _, err := rs[0].ImportRoll(ctx, "d3", Entries(voters(4))); !errors.Is(err, store.ErrRollLocked) {
		t.Errorf("ImportRoll on another replica after the first ballot: %v, want ErrRollLocked", err)
	}
	if d, err := rs[1].RollDigest(ctx); err != nil || d != "d2" {
		t.Errorf("RollDigest after a refused import = %q, %v; want d2", d, err)
	}
	if _, err := rs[1].Voter(ctx, "v0004"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a voter of the refused roll: %v, want ErrNotFound", err)
	}
	if v, err := rs[2].Voter(ctx, vs[2].ID); err != nil || !sameVoter(v, vs[2]) {
		t.Errorf("a voter of the roll in force = %+v, %v", v, err)
	}
}

// testAuditAcrossReplicas: replicas append at once; the log is one chain whose
// head every replica reads as its last entry's hash, and each append's entries
// are contiguous.
func testAuditAcrossReplicas(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, rounds = 4, 5
	rs := replicas(t, s, n)
	returned := make([][]store.AuditEntry, n)
	errs := parallel(n, func(i int) error {
		for r := range rounds {
			es, err := rs[i].AppendAudit(ctx,
				store.AuditRecord{Kind: "ballot", Data: fmt.Appendf(nil, `"r%d-%d-a"`, i, r)},
				store.AuditRecord{Kind: "ballot", Data: fmt.Appendf(nil, `"r%d-%d-b"`, i, r)})
			if err != nil {
				return err
			}
			returned[i] = append(returned[i], es...)
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("AppendAudit on replica %d: %v", i, err)
		}
	}
	log, err := rs[0].AuditLog(ctx)
	must(t, err)
	if len(log) != n*rounds*2 {
		t.Fatalf("%d entries, want %d", len(log), n*rounds*2)
	}
	for i, r := range rs {
		head, err := r.AuditHead(ctx)
		if err != nil || head != log[len(log)-1].Hash {
			t.Errorf("replica %d's AuditHead = %q, %v; want the last entry's hash %q", i, head, err, log[len(log)-1].Hash)
		}
	}
	if err := audit.Verify(log, log[len(log)-1].Hash); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for i, es := range returned {
		for j := 0; j+1 < len(es); j += 2 {
			a, b := es[j], es[j+1]
			if b.Seq != a.Seq+1 || b.PrevHash != a.Hash {
				t.Errorf("replica %d: one append's entries %d and %d are not linked", i, a.Seq, b.Seq)
			}
			if got := log[a.Seq-1]; got.Hash != a.Hash {
				t.Errorf("replica %d: entry %d returned %s, the log holds %s", i, a.Seq, a.Hash, got.Hash)
			}
		}
	}
}

// testKeysAcrossReplicas: replicas creating the same keys at once all get one
// value, which stays.
func testKeysAcrossReplicas(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	rs := replicas(t, s, n)
	got := make([][]byte, n)
	errs := parallel(n, func(i int) (err error) {
		got[i], err = rs[i].Keys(ctx, "belenios-uuid", func() ([]byte, error) { return fmt.Appendf(nil, "key-%d", i), nil })
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Keys on replica %d: %v", i, err)
		}
	}
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("replica %d got %q, replica 0 %q: want one value", i, got[i], got[0])
		}
	}
	if !bytes.HasPrefix(got[0], []byte("key-")) {
		t.Errorf("Keys = %q, want one of the generated values", got[0])
	}
	if k, err := rs[n-1].Keys(ctx, "belenios-uuid", func() ([]byte, error) { return []byte("later"), nil }); err != nil || !bytes.Equal(k, got[0]) {
		t.Errorf("Keys afterwards = %q, %v; want %q", k, err, got[0])
	}
}

// testSessionOutlivesItsCode: the right code ends the pending sign-in (its codes
// no longer work) but not the session opened with it; nor do a new sign-in, its
// wrong codes, the lockout they start, the hotline's unlock or the deletion of
// the sign-in.
func testSessionOutlivesItsCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(1)
	importRoll(t, s, vs, "d")
	id := vs[0].ID
	must(t, s.PutSignIn(ctx, guardSignIn(id, "right", 0)))
	a, err := s.AttemptSignIn(ctx, id, at(1), guardPolicy, guardCheck("right"), nil)
	if err != nil || a.Verdict != store.Right {
		t.Fatalf("AttemptSignIn(right) = %+v, %v", a, err)
	}
	sess := store.Session{IDHash: []byte("session"), VoterID: id, CreatedAt: at(1), LastSeenAt: at(1)}
	must(t, s.CreateSession(ctx, sess))
	if _, err := s.SignIn(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pending sign-in after the right code: %v, want ErrNotFound", err)
	}
	if a, err := s.AttemptSignIn(ctx, id, at(2), guardPolicy, guardCheck("right"), nil); err != nil || a.Verdict != store.NothingToCheck {
		t.Errorf("the same code again = %+v, %v; want NothingToCheck (it no longer works)", a, err)
	}
	alive := func(after string) {
		t.Helper()
		if got, err := s.Session(ctx, sess.IDHash); err != nil || !sameSession(got, sess) {
			t.Errorf("the session after %s = %+v, %v; want it unchanged", after, got, err)
		}
	}
	alive("the right code")
	must(t, s.PutSignIn(ctx, guardSignIn(id, "other", 3)))
	alive("a new sign-in")
	for m := range guardPolicy.MaxFailures {
		if _, err := s.AttemptSignIn(ctx, id, at(4+m), guardPolicy, guardCheck("wrong"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if g, err := s.Guard(ctx, id); err != nil || !g.Locked(at(3+guardPolicy.MaxFailures)) {
		t.Fatalf("Guard after %d wrong codes = %+v, %v; want locked out", guardPolicy.MaxFailures, g, err)
	}
	alive("a lockout")
	if _, err := s.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	alive("the hotline's unlock")
	must(t, s.DeleteSignIn(ctx, id))
	alive("the sign-in's deletion")
}

// testScheduleAlone: the recorded schedule alone opens the box and lets it be
// closed: a vote runs, and closes, when no replica recorded the opening (the
// controller and every replica's opening step may have been down across the
// window). A cast does not record the opening either.
func testScheduleAlone(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(2)
	importRoll(t, s, vs, "d")
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Hour, 300*time.Millisecond, 1))))
	must(t, s.Cast(ctx, vs[0].ID, ballot("t0")))
	if st := recorded(t, s); st.Opened {
		t.Errorf("State after a cast = %+v; want the opening not recorded", st)
	}
	closeWhenDue(t, s)
	if st := recorded(t, s); st.Opened || !st.Closed {
		t.Errorf("State after the close = %+v; want closed, the opening still not recorded", st)
	}
	if bs, err := s.Ballots(ctx); err != nil || len(bs) != 1 || bs[0].Tracker != "t0" {
		t.Errorf("Ballots = %+v, %v; want t0", bs, err)
	}
}

// testRightCodeOpensTheSession: AttemptSignIn with a session to open creates it in
// the attempt's transaction when the code is right, and only then: a wrong code,
// nothing to check and a lockout open none. An id hash already in use fails the
// attempt whole: the pending sign-in and the guard stay as they were, so the code
// still works.
func testRightCodeOpensTheSession(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(2)
	importRoll(t, s, vs, "d")
	id := vs[0].ID
	sess := func(h string, m int) *store.Session {
		return &store.Session{IDHash: []byte(h), VoterID: id, CreatedAt: at(m), LastSeenAt: at(m)}
	}
	none := func(h string) {
		t.Helper()
		if _, err := s.Session(ctx, []byte(h)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %q: %v, want none", h, err)
		}
	}
	// nothing to check: no session
	if a, err := s.AttemptSignIn(ctx, id, at(0), guardPolicy, guardCheck("right"), sess("s-none", 0)); err != nil || a.Verdict != store.NothingToCheck {
		t.Fatalf("without a pending sign-in = %+v, %v", a, err)
	}
	none("s-none")
	must(t, s.PutSignIn(ctx, guardSignIn(id, "right", 0)))
	// a wrong code: counted, no session
	if a, err := s.AttemptSignIn(ctx, id, at(1), guardPolicy, guardCheck("wrong"), sess("s-wrong", 1)); err != nil || a.Verdict != store.Wrong {
		t.Fatalf("wrong code = %+v, %v", a, err)
	}
	none("s-wrong")
	// an id hash in use (the other voter's session): the attempt fails whole
	taken := store.Session{IDHash: []byte("s-taken"), VoterID: vs[1].ID, CreatedAt: at(1), LastSeenAt: at(1)}
	must(t, s.CreateSession(ctx, taken))
	before, err := s.Guard(ctx, id)
	must(t, err)
	if _, err := s.AttemptSignIn(ctx, id, at(2), guardPolicy, guardCheck("right"), sess("s-taken", 2)); err == nil {
		t.Fatalf("a right code opening a session whose id hash is in use succeeded")
	}
	if got, err := s.Guard(ctx, id); err != nil || got != before {
		t.Errorf("the guard after the failed attempt = %+v, %v; want %+v unchanged", got, err, before)
	}
	if _, err := s.SignIn(ctx, id); err != nil {
		t.Errorf("the pending sign-in after the failed attempt: %v; want it kept", err)
	}
	if got, err := s.Session(ctx, []byte("s-taken")); err != nil || got.VoterID != vs[1].ID {
		t.Errorf("the other voter's session = %+v, %v", got, err)
	}
	// the right code: the sign-in ends and the session begins, together
	want := sess("s-right", 3)
	a, err := s.AttemptSignIn(ctx, id, at(3), guardPolicy, guardCheck("right"), want)
	if err != nil || a.Verdict != store.Right {
		t.Fatalf("right code = %+v, %v", a, err)
	}
	if got, err := s.Session(ctx, want.IDHash); err != nil || !sameSession(got, *want) {
		t.Errorf("the session opened = %+v, %v; want %+v", got, err, *want)
	}
	if _, err := s.SignIn(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pending sign-in after the right code: %v, want ErrNotFound", err)
	}
}
