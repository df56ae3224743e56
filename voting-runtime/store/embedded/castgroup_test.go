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
	if commits, casts := s.casts.commits.Load(), s.casts.casts.Load(); commits != 1 || casts != int64(len(ids)) {
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
