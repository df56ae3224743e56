package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"scrutin.dev/scrutin/voting-runtime/ballot"
)

// TestEngineFollowsTheStoresScheduleNotItsFile: two engines share one store, an
// old one whose file closes at T and a new one (after an extend) whose file closes
// at T+30 min. The store records the newer schedule; the old engine neither closes
// nor refuses ballots at T, and every ballot accepted is counted at T+30 min.
func TestEngineFollowsTheStoresScheduleNotItsFile(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "EmailCode")
	old := f.en
	e2 := old.Election().DeepCopy()
	e2.Generation = 2
	e2.Spec.Schedule.ClosesAt = metav1.NewTime(e2.Spec.Schedule.ClosesAt.Add(30 * time.Minute))
	extended, err := New(Config{Election: e2, Store: f.store, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if applied, err := extended.RecordSchedule(ctx, ScheduleOf(e2)); err != nil || !applied {
		t.Fatalf("RecordSchedule of the extended election: %v, %v", applied, err)
	}
	if applied, err := old.RecordSchedule(ctx, ScheduleOf(old.Election())); err != nil || applied {
		t.Fatalf("the old file's schedule was recorded over the newer one: %v, %v", applied, err)
	}
	f.clock.Add(time.Hour + 10*time.Hour + time.Minute) // past the old file's closesAt
	if err := old.Close(ctx); !errors.Is(err, ErrNotClosed) {
		t.Fatalf("the old engine closed by its own file: %v", err)
	}
	answers := ballot.Answers{"chair": {"alice"}, "motions": {"m1"}}
	tr1, err := old.Cast(ctx, "V-1", answers)
	if err != nil {
		t.Fatalf("a cast on the old engine after its file's closesAt, before the store's: %v", err)
	}
	tr2, err := extended.Cast(ctx, "V-2", answers)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Minute)
	if _, err := extended.Cast(ctx, "V-3", answers); !errors.Is(err, ErrVoteClosed) {
		t.Fatalf("a cast after the store's closesAt: %v", err)
	}
	if err := old.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if applied, err := extended.RecordSchedule(ctx, ScheduleOf(e2)); !errors.Is(err, ErrVoteClosed) || applied {
		t.Errorf("a schedule recorded after the close: %v, %v", applied, err)
	}
	board, err := extended.Board(ctx)
	if err != nil || len(board) != 2 {
		t.Fatalf("board %v, %v; want both receipts", board, err)
	}
	for _, tr := range []string{tr1, tr2} {
		if tr != board[0] && tr != board[1] {
			t.Errorf("receipt %s is not on the board", tr)
		}
	}
	res, err := extended.Results(ctx)
	if err != nil || res[0].Options[0].Votes != 1+2 { // V-2 weighs 2
		t.Errorf("results %+v, %v; want alice with 3 votes", res, err)
	}
}

// TestStatusSaysWhatTheStoreRecorded: the control status reports the opening, the
// close and the tally as the store records them, so that a controller that missed
// the window still learns whether a vote took place; a box closed without ever
// opening says so.
func TestStatusSaysWhatTheStoreRecorded(t *testing.T) {
	ctx := context.Background()
	status := func(t *testing.T, en *Engine) Status {
		t.Helper()
		st, err := en.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	type flags struct{ opened, closed, tallied bool }
	of := func(st Status) flags { return flags{st.Opened, st.Closed, st.Tallied} }

	f := newFixture(t, "EmailCode")
	if got := of(status(t, f.en)); got != (flags{}) {
		t.Errorf("before the opening: %+v", got)
	}
	f.clock.Add(time.Hour)
	if err := f.en.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(t, f.en); of(st) != (flags{opened: true}) || !st.Open {
		t.Errorf("after the opening: %+v", st)
	}
	f.clock.Add(10*time.Hour + time.Minute)
	if err := f.en.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(t, f.en); of(st) != (flags{true, true, true}) || st.Open {
		t.Errorf("after the close: %+v", st)
	}

	never := newFixture(t, "EmailCode")
	never.clock.Add(11*time.Hour + time.Minute) // the runtime was down through the window
	if got := of(status(t, never.en)); got != (flags{}) {
		t.Errorf("after the window, before the close: %+v", got)
	}
	if err := never.en.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := of(status(t, never.en)); got != (flags{closed: true, tallied: true}) {
		t.Errorf("a box closed without opening: %+v", got)
	}
}
