// Package storetest is the conformance suite every store.Store passes: Run it from
// the implementation's tests. Besides each method's contract, it checks the rules
// the engine relies on when replicas share a store (engine_rules.go): each step
// recorded once, one ballot per voter, a cast after the close refused by the
// store itself, the roll locked by the first ballot, one audit chain, one value
// of the keys, a session that outlives its code, a box that the schedule alone
// opens and lets close.
//
// A store may also implement:
//   - Reopener, to open the same database again (as another process would): the
//     suite then migrates from separate Stores at once and checks that what was
//     written survives Close;
//   - BallotColumner, to list the ballots table's columns: the suite checks that
//     they are exactly id, payload, weight and tracker;
//   - Dumper, to show the database as a dump would: the suite checks that a sent,
//     failed or withdrawn message's content is not in it.
//
// Without them, those checks are skipped (Migrate then runs concurrently on one
// Store).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Reopener opens another Store on the same database, closed when t ends (for a
// test wrapper around a store, typically).
type Reopener interface {
	Reopen(t *testing.T) store.Store
}

// BallotColumner lists the columns of the table that holds the ballots.
type BallotColumner interface {
	BallotColumns(ctx context.Context) ([]string, error)
}

// Run runs the suite. open returns a Store on a new, empty, unmigrated database,
// and arranges for it to be closed when t ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		OpenBox(t, s)
		return s
	}
	// migrated is a new database with no schedule recorded
	migrated := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}
	t.Run("MigrateTwice", func(t *testing.T) { testMigrateTwice(t, fresh(t)) })
	t.Run("MigrateConcurrently", func(t *testing.T) { testMigrateConcurrently(t, open(t)) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, fresh(t)) })
	t.Run("ImportRoll", func(t *testing.T) { testImportRoll(t, fresh(t)) })
	t.Run("ImportRollAllOrNothing", func(t *testing.T) { testImportRollAllOrNothing(t, fresh(t)) })
	t.Run("RollLockedAfterCast", func(t *testing.T) { testRollLocked(t, fresh(t)) })
	t.Run("ImportLargeRoll", func(t *testing.T) { testImportLargeRoll(t, fresh(t)) })
	t.Run("SignIns", func(t *testing.T) { testSignIns(t, fresh(t)) })
	t.Run("UpdateSignIn", func(t *testing.T) { testUpdateSignIn(t, fresh(t)) })
	t.Run("WrongCodesLockTheVoterOut", func(t *testing.T) { testLockout(t, fresh(t)) })
	t.Run("ConcurrentWrongCodesCountedOnce", func(t *testing.T) { testConcurrentAttempts(t, fresh(t)) })
	t.Run("ResendCooldownOutlivesTheSignIn", func(t *testing.T) { testReserveCode(t, fresh(t)) })
	t.Run("SendCodeInOneCommit", func(t *testing.T) { testSendCode(t, fresh(t)) })
	t.Run("CodeSentDuringALockoutIsNeverRecorded", func(t *testing.T) { testCodeSentDuringALockoutIsNeverRecorded(t, fresh(t)) })
	t.Run("EscalationDecaysAfterADayWithoutFailure", func(t *testing.T) { testEscalationDecays(t, fresh(t)) })
	t.Run("HotlineUnlock", func(t *testing.T) { testHotlineUnlock(t, fresh(t)) })
	t.Run("SignInClearsTheResendCooldown", func(t *testing.T) { testSignInClearsTheResendCooldown(t, fresh(t)) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, fresh(t)) })
	t.Run("RightCodeOpensTheSession", func(t *testing.T) { testRightCodeOpensTheSession(t, fresh(t)) })
	t.Run("Cast", func(t *testing.T) { testCast(t, fresh(t)) })
	t.Run("SealBallots", func(t *testing.T) { testSealBallots(t, fresh(t)) })
	t.Run("CastUnknownVoter", func(t *testing.T) { testCastUnknownVoter(t, fresh(t)) })
	t.Run("CastTrackerTaken", func(t *testing.T) { testCastTrackerTaken(t, fresh(t)) })
	t.Run("CastSameVoterConcurrently", func(t *testing.T) { testCastSameVoter(t, fresh(t)) })
	t.Run("CastManyVoters", func(t *testing.T) { testCastManyVoters(t, fresh(t)) })
	t.Run("DeclareProxies", func(t *testing.T) { testDeclareProxies(t, fresh(t)) })
	t.Run("CastByProxy", func(t *testing.T) { testCastByProxy(t, fresh(t)) })
	t.Run("GrantorAndHolderAtOnce", func(t *testing.T) { testGrantorAndHolderAtOnce(t, fresh(t)) })
	t.Run("BallotsAndParticipationOrder", func(t *testing.T) { testOrder(t, fresh(t)) })
	t.Run("BallotColumns", func(t *testing.T) { testBallotColumns(t, fresh(t)) })
	t.Run("AuditEmpty", func(t *testing.T) { testAuditEmpty(t, fresh(t)) })
	t.Run("AuditAppend", func(t *testing.T) { testAuditAppend(t, fresh(t)) })
	t.Run("AuditConcurrent", func(t *testing.T) { testAuditConcurrent(t, fresh(t)) })
	t.Run("State", func(t *testing.T) { testState(t, migrated(t)) })
	t.Run("CastWithoutScheduleNotOpen", func(t *testing.T) { testCastWithoutSchedule(t, migrated(t)) })
	t.Run("CastBeforeOpensAtNotOpen", func(t *testing.T) { testCastBeforeOpens(t, migrated(t)) })
	t.Run("CastAfterCloseFailsClosed", func(t *testing.T) { testCastAfterClose(t, migrated(t)) })
	t.Run("CloseOnlyOnceDue", func(t *testing.T) { testCloseOnlyOnceDue(t, migrated(t)) })
	t.Run("ScheduleOlderVersionIgnored", func(t *testing.T) { testScheduleVersions(t, migrated(t)) })
	t.Run("ScheduleRefusedAfterClose", func(t *testing.T) { testScheduleAfterClose(t, migrated(t)) })
	t.Run("CastsRacingCloseAllCounted", func(t *testing.T) { testCastsRacingClose(t, migrated(t)) })
	t.Run("ReceiptsCountedUnderRandomScheduleMoves", func(t *testing.T) { testRandomScheduleMoves(t, migrated) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, fresh(t)) })
	t.Run("OutboxEnqueueAndDeliveries", func(t *testing.T) { testOutboxEnqueueAndDeliveries(t, fresh(t)) })
	t.Run("OutboxClaimOldestFirstUpToLimit", func(t *testing.T) { testOutboxClaimOldestFirst(t, fresh(t)) })
	t.Run("OutboxClaimNeverTwiceWhileLeased", func(t *testing.T) { testOutboxClaimNeverTwice(t, fresh(t)) })
	t.Run("OutboxLeaseRunsOutSameContent", func(t *testing.T) { testOutboxLeaseRunsOut(t, fresh(t)) })
	t.Run("OutboxRetryAt", func(t *testing.T) { testOutboxRetry(t, fresh(t)) })
	t.Run("OutboxFinishConcurrently", func(t *testing.T) { testOutboxFinishConcurrently(t, fresh(t)) })
	t.Run("OutboxExpiredFails", func(t *testing.T) { testOutboxExpired(t, fresh(t)) })
	t.Run("OutboxWithdraw", func(t *testing.T) { testOutboxWithdraw(t, fresh(t)) })
	t.Run("OutboxReport", func(t *testing.T) { testOutboxReport(t, fresh(t)) })
	t.Run("DeliveryCounts", func(t *testing.T) { testDeliveryCounts(t, fresh(t)) })
	t.Run("OutboxDumpHoldsNoSentContent", func(t *testing.T) { testOutboxErasesSealed(t, fresh(t)) })
	t.Run("ImportRollWithLettersAllOrNothing", func(t *testing.T) { testImportRollWithLetters(t, fresh(t)) })
	t.Run("ImportRollOnceAcrossProcesses", func(t *testing.T) { testImportRollOnce(t, fresh(t)) })
	runBoard(t, fresh, migrated)
	runEngineRules(t, fresh, migrated)
}

func testMigrateTwice(t *testing.T, s store.Store) {
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	importRoll(t, s, voters(2), "d1")
	if n, c := counts(t, s); n != 2 || c != 0 {
		t.Errorf("Counts = %d, %d after migrating twice; want 2, 0", n, c)
	}
}

// testMigrateConcurrently migrates a new database from 4 Stores at once (4
// goroutines on one Store when it cannot be reopened), as pods starting together.
func testMigrateConcurrently(t *testing.T, s store.Store) {
	stores := []store.Store{s, s, s, s}
	if r, ok := s.(Reopener); ok {
		for i := 1; i < len(stores); i++ {
			stores[i] = r.Reopen(t)
		}
	} else {
		t.Log("the store cannot be reopened: 4 goroutines migrate one Store")
	}
	errs := parallel(len(stores), func(i int) error { return stores[i].Migrate(t.Context()) })
	for _, err := range errs {
		if err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
	for i, st := range stores {
		if _, err := st.State(t.Context()); err != nil {
			t.Errorf("store %d: State after concurrent Migrate: %v", i, err)
		}
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	calls := 0
	gen := func(v string) func() ([]byte, error) {
		return func() ([]byte, error) { calls++; return []byte(v), nil }
	}
	boom := errors.New("no entropy")
	if _, err := s.Keys(ctx, "a", func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("Keys with a failing gen: %v, want %v", err, boom)
	}
	k1, err := s.Keys(ctx, "a", gen("key-a"))
	if err != nil || string(k1) != "key-a" || calls != 1 {
		t.Fatalf("first Keys(a) = %q, %v (gen called %d times); want key-a, once", k1, err, calls)
	}
	k2, err := s.Keys(ctx, "a", gen("other"))
	if err != nil || string(k2) != "key-a" || calls != 1 {
		t.Errorf("second Keys(a) = %q, %v (gen called %d times); want key-a, gen not called again", k2, err, calls)
	}
	kb, err := s.Keys(ctx, "b", gen("key-b"))
	if err != nil || string(kb) != "key-b" || calls != 2 {
		t.Errorf("Keys(b) = %q, %v; want key-b, its own gen called", kb, err)
	}
	if k, _ := s.Keys(ctx, "a", gen("x")); string(k) != "key-a" {
		t.Errorf("Keys(a) after Keys(b) = %q, want key-a", k)
	}
}

func testState(t *testing.T, s store.Store) {
	ctx := t.Context()
	st, err := s.State(ctx)
	if err != nil || st.Opened || st.Closed || st.Results != nil || !st.Schedule.IsZero() {
		t.Fatalf("initial State = %+v, %v; want the zero State", st, err)
	}
	// a schedule whose closing time has passed, so that the close is due
	sc := store.Schedule{OpensAt: time.Now().Add(-time.Hour).Truncate(time.Microsecond).UTC(),
		ClosesAt: time.Now().Add(-time.Second).Truncate(time.Microsecond).UTC(), Version: 7}
	if applied, err := s.SetSchedule(ctx, sc); err != nil || !applied {
		t.Fatalf("SetSchedule: %v, %v", applied, err)
	}
	if st, err := s.State(ctx); err != nil || !sameSchedule(st.Schedule, sc) {
		t.Errorf("State's schedule = %+v, %v; want %+v", st.Schedule, err, sc)
	}
	once := func(what string, step func() (bool, error)) {
		t.Helper()
		if changed, err := step(); err != nil || !changed {
			t.Errorf("first %s: changed=%v, %v; want true", what, changed, err)
		}
		if changed, err := step(); err != nil || changed {
			t.Errorf("second %s: changed=%v, %v; want false (recorded once)", what, changed, err)
		}
	}
	once("SetOpened", func() (bool, error) { return s.SetOpened(ctx) })
	if st, _ := s.State(ctx); !st.Opened || st.Closed {
		t.Errorf("State after SetOpened = %+v", st)
	}
	once("SetClosed", func() (bool, error) { return s.SetClosed(ctx) })
	results := []byte(`{"q1":{"yes":3,"no":1}}`)
	once("SetResults", func() (bool, error) { return s.SetResults(ctx, results) })
	st, err = s.State(ctx)
	if err != nil || !st.Opened || !st.Closed || !bytes.Equal(st.Results, results) {
		t.Errorf("final State = %+v (results %s), %v", st, st.Results, err)
	}
}

// testReopen writes some of everything, closes the store, reopens the database
// and reads it all back.
func testReopen(t *testing.T, s store.Store) {
	r, ok := s.(Reopener)
	if !ok {
		t.Skip("the store cannot be reopened")
	}
	ctx := t.Context()
	vs := voters(3)
	importRoll(t, s, vs, "digest-1")
	if _, err := s.Keys(ctx, "k", func() ([]byte, error) { return []byte("secret"), nil }); err != nil {
		t.Fatal(err)
	}
	must(t, s.Cast(ctx, vs[1].ID, ballot("t-1")))
	sess := store.Session{IDHash: []byte{1, 2, 3}, VoterID: vs[0].ID, CreatedAt: at(0), LastSeenAt: at(1)}
	must(t, s.CreateSession(ctx, sess))
	sign := store.PendingSignIn{VoterID: vs[2].ID, Codes: []store.PendingCode{{Hash: []byte("h"), ExpiresAt: at(5)}},
		LastSentAt: at(2), ExpiresAt: at(10)}
	must(t, s.PutSignIn(ctx, sign))
	entries, err := s.AppendAudit(ctx, store.AuditRecord{Kind: "opened", Data: []byte("{}")})
	must(t, err)
	_, err = s.SetOpened(ctx)
	must(t, err)
	must(t, s.Close())

	s = r.Reopen(t)
	if d, err := s.RollDigest(ctx); err != nil || d != "digest-1" {
		t.Errorf("RollDigest after reopening = %q, %v", d, err)
	}
	if k, err := s.Keys(ctx, "k", func() ([]byte, error) { return []byte("new"), nil }); err != nil || string(k) != "secret" {
		t.Errorf("Keys after reopening = %q, %v", k, err)
	}
	if v, err := s.Voter(ctx, vs[2].ID); err != nil || !sameVoter(v, vs[2]) {
		t.Errorf("Voter after reopening = %+v, %v", v, err)
	}
	if voted, err := s.HasVoted(ctx, vs[1].ID); err != nil || !voted {
		t.Errorf("HasVoted after reopening = %v, %v", voted, err)
	}
	if bs, err := s.Ballots(ctx); err != nil || len(bs) != 1 || !sameBallot(bs[0], ballot("t-1")) {
		t.Errorf("Ballots after reopening = %+v, %v", bs, err)
	}
	if got, err := s.Session(ctx, sess.IDHash); err != nil || !sameSession(got, sess) {
		t.Errorf("Session after reopening = %+v, %v", got, err)
	}
	if got, err := s.SignIn(ctx, sign.VoterID); err != nil || !sameSignIn(got, sign) {
		t.Errorf("SignIn after reopening = %+v, %v", got, err)
	}
	if head, err := s.AuditHead(ctx); err != nil || head != entries[0].Hash {
		t.Errorf("AuditHead after reopening = %q, %v", head, err)
	}
	if st, err := s.State(ctx); err != nil || !st.Opened || st.Schedule.Version != 1 {
		t.Errorf("State after reopening = %+v, %v", st, err)
	}
}

// voters returns n voters v0001…, the odd ones with a credential hash.
func voters(n int) []store.Voter {
	vs := make([]store.Voter, n)
	for i := range vs {
		vs[i] = store.Voter{
			ID:     fmt.Sprintf("v%04d", i+1),
			Name:   fmt.Sprintf("Voter %d", i+1),
			Email:  fmt.Sprintf("v%d@example.org", i+1),
			Phone:  "+33612345678",
			Weight: int64(i%3 + 1),
		}
		if i%2 == 1 {
			vs[i].CredentialHash = []byte(fmt.Sprintf("cred-hash-%d", i+1))
		}
	}
	return vs
}

// ballot is a ballot with tracker tr and a payload naming it.
func ballot(tr string) store.Ballot {
	return store.Ballot{Payload: []byte(`{"answers":"` + tr + `"}`), Weight: 1, Tracker: tr}
}

// at is a fixed time plus m minutes, with microseconds (the precision stores keep).
func at(m int) time.Time {
	return time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC).Add(time.Duration(m) * time.Minute)
}

func importRoll(t *testing.T, s store.Store, vs []store.Voter, digest string) {
	t.Helper()
	if imported, err := s.ImportRoll(t.Context(), digest, Entries(vs)); err != nil || !imported {
		t.Fatalf("ImportRoll: imported=%v, %v", imported, err)
	}
}

func counts(t *testing.T, s store.Store) (voters, cast int64) {
	t.Helper()
	voters, cast, err := s.Counts(t.Context())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	return voters, cast
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// parallel runs f(0)…f(n-1) in n goroutines released together, and returns
// their errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

func sameVoter(a, b store.Voter) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email && a.Phone == b.Phone &&
		a.Weight == b.Weight && bytes.Equal(a.CredentialHash, b.CredentialHash) && a.PublicCredential == b.PublicCredential &&
		(a.CredentialHash == nil) == (b.CredentialHash == nil)
}

func sameBallot(a, b store.Ballot) bool {
	return bytes.Equal(a.Payload, b.Payload) && a.Weight == b.Weight && a.Tracker == b.Tracker
}

func sameSession(a, b store.Session) bool {
	return bytes.Equal(a.IDHash, b.IDHash) && a.VoterID == b.VoterID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt)
}

func sameSignIn(a, b store.PendingSignIn) bool {
	return a.VoterID == b.VoterID && a.LastSentAt.Equal(b.LastSentAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && slices.EqualFunc(a.Codes, b.Codes, func(x, y store.PendingCode) bool {
		return bytes.Equal(x.Hash, y.Hash) && x.ExpiresAt.Equal(y.ExpiresAt)
	})
}
