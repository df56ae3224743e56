package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// TestCastsWaitingCommitTogether: casts that arrive while a group's statement
// waits (here behind the state row, locked as the close locks it) are stored by
// the next group's one statement; a voter's second cast and a stranger's are
// refused alone, with their own reasons, and every other cast is in the box.
func TestCastsWaitingCommitTogether(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t, srv)
	s, ids := openMigrated(t, dsn, 100)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lock, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, "SELECT 1 FROM state FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	voters := append(append([]string(nil), ids...), ids[7], "not-on-the-roll")
	errs := make([]error, len(voters))
	var wg sync.WaitGroup
	for i, id := range voters {
		wg.Go(func() {
			errs[i] = s.Cast(ctx, id, store.Ballot{Payload: []byte("p"), Weight: 1, Tracker: fmt.Sprintf("t%03d", i)})
		})
	}
	// the first group's statement waits for the state row; every other cast
	// waits for the next group
	deadline := time.Now().Add(10 * time.Second)
	for s.casts.Waiting() < len(voters)-1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d casts waiting, want %d", s.casts.Waiting(), len(voters)-1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := lock.Rollback(ctx); err != nil {
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
		case errors.Is(err, store.ErrNotFound) && voters[i] == "not-on-the-roll":
			unknown++
		default:
			t.Errorf("cast %d (%s): %v", i, voters[i], err)
		}
	}
	if ok != len(ids) || already != 1 || unknown != 1 {
		t.Errorf("%d cast, %d already voted, %d not on the roll; want %d, 1, 1", ok, already, unknown, len(ids))
	}
	// the first cast's group, the one of all the others, and the second cast of
	// ids[7] (never in the same group as the first) when it did not come first
	if n := s.castStatements.Load(); n > 3 {
		t.Errorf("%d group statements for %d casts, want at most 3", n, len(voters))
	}
	if bs, err := s.Ballots(ctx); err != nil || len(bs) != len(ids) {
		t.Errorf("%d ballots (%v), want %d", len(bs), err, len(ids))
	}
}
