package embedded

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// TestCastsWaitingForTheWriterCommitTogether: casts that arrive while the writer
// is busy are committed in one transaction once it is free (one fsync for all),
// each answered after that commit; a voter's second cast in the same group is
// refused as already voted, and a voter not on the roll is refused alone; nothing
// else of the group is lost.
func TestCastsWaitingForTheWriterCommitTogether(t *testing.T) {
	ctx := t.Context()
	s := openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.OpenBox(t, s)
	const n = 100
	var vs []store.Voter
	for i := range n {
		vs = append(vs, store.Voter{ID: fmt.Sprintf("v%03d", i), Name: "V", Weight: 1})
	}
	if ok, err := s.ImportRoll(ctx, "d", storetest.Entries(vs)); err != nil || !ok {
		t.Fatalf("ImportRoll: %v %v", ok, err)
	}

	// another write holds the writer while the casts arrive
	busy, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n+2)
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	ids = append(ids, vs[7].ID, "not-on-the-roll") // a second cast of v007, and a stranger
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			errs[i] = s.Cast(ctx, id, store.Ballot{Payload: []byte("p"), Weight: 1, Tracker: fmt.Sprintf("t%03d", i)})
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		waiting := s.casts.group.Waiting()
		if waiting == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d casts waiting for the writer, want %d", waiting, len(ids))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := busy.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	ok, already, unknown := 0, 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrAlreadyVoted):
			already++
		case errors.Is(err, store.ErrNotFound) && ids[i] == "not-on-the-roll":
			unknown++
		default:
			t.Errorf("cast %d (%s): %v", i, ids[i], err)
		}
	}
	if ok != n || already != 1 || unknown != 1 {
		t.Errorf("%d cast, %d already voted, %d not on the roll; want %d, 1, 1", ok, already, unknown, n)
	}
	if commits, casts := s.casts.commits.Load(), s.casts.writes.Load(); commits != 1 || casts != int64(len(ids)) {
		t.Errorf("%d commits for %d casts; want the %d casts waiting in one", commits, casts, len(ids))
	}
	bs, err := s.Ballots(ctx)
	if err != nil || len(bs) != n {
		t.Errorf("%d ballots (%v), want %d", len(bs), err, n)
	}
	if v, c, err := s.Counts(ctx); err != nil || v != n || c != n {
		t.Errorf("Counts = %d, %d, %v; want %d, %d", v, c, err, n, n)
	}
}

// TestSignInStepsWaitingForTheWriterCommitTogether: codes sent and a code
// checked while the writer is busy are committed in one transaction once it is
// free; the step that fails (a right code whose session id is already in use)
// undoes only itself: its voter's pending sign-in and guard stay as they were,
// and every other voter's code is recorded with its message.
func TestSignInStepsWaitingForTheWriterCommitTogether(t *testing.T) {
	ctx := t.Context()
	s := openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var vs []store.Voter
	for i := range n + 1 {
		vs = append(vs, store.Voter{ID: fmt.Sprintf("v%03d", i), Name: "V", Weight: 1})
	}
	if ok, err := s.ImportRoll(ctx, "d", storetest.Entries(vs)); err != nil || !ok {
		t.Fatalf("ImportRoll: %v %v", ok, err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	last := vs[n].ID
	pending := store.PendingSignIn{VoterID: last, Codes: []store.PendingCode{{Hash: []byte("right"), ExpiresAt: now.Add(time.Hour)}},
		LastSentAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.PutSignIn(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, store.Session{IDHash: []byte("taken"), VoterID: vs[0].ID, CreatedAt: now, LastSeenAt: now}); err != nil {
		t.Fatal(err)
	}
	guardBefore, err := s.Guard(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	commitsBefore := s.signIns.commits.Load()

	busy, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := make([]bool, n)
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := vs[i].ID
			_, sent[i], _, errs[i] = s.SendCode(ctx, id, now, time.Minute, func(*store.PendingSignIn) store.PendingSignIn {
				return store.PendingSignIn{Codes: []store.PendingCode{{Hash: []byte("c"), ExpiresAt: now.Add(time.Hour)}},
					LastSentAt: now, ExpiresAt: now.Add(time.Hour)}
			}, store.OutboxMessage{VoterID: id, Kind: store.KindCode, Channel: store.ChannelSMS, Sealed: []byte("sealed"), NotAfter: now.Add(time.Hour)})
		})
	}
	wg.Go(func() {
		_, errs[n] = s.AttemptSignIn(ctx, last, now, store.LockoutPolicy{MaxFailures: 3, Lockouts: []time.Duration{time.Minute}},
			func(*store.PendingSignIn) store.Verdict { return store.Right },
			&store.Session{IDHash: []byte("taken"), VoterID: last, CreatedAt: now, LastSeenAt: now})
	})
	deadline := time.Now().Add(10 * time.Second)
	for s.signIns.group.Waiting() < n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d steps waiting for the writer, want %d", s.signIns.group.Waiting(), n+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := busy.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for i := range n {
		if errs[i] != nil || !sent[i] {
			t.Errorf("code %d: sent %v, %v", i, sent[i], errs[i])
		}
		if ms, err := s.Deliveries(ctx, vs[i].ID, 10); err != nil || len(ms) != 1 {
			t.Errorf("voter %d: %d messages (%v), want 1", i, len(ms), err)
		}
	}
	if errs[n] == nil {
		t.Errorf("the code check opening a session whose id is in use succeeded")
	}
	if g, err := s.Guard(ctx, last); err != nil || g != guardBefore {
		t.Errorf("the failed check's guard = %+v, %v; want %+v", g, err, guardBefore)
	}
	if _, err := s.SignIn(ctx, last); err != nil {
		t.Errorf("the failed check's pending sign-in: %v; want it kept", err)
	}
	if c := s.signIns.commits.Load() - commitsBefore; c != 1 {
		t.Errorf("%d commits for the %d steps waiting, want 1", c, n+1)
	}
}
