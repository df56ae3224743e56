package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The box's clock is the store's (the database server's for PostgreSQL, the
// process's for the embedded store): these tests use real time, with windows of a
// few hundred milliseconds.

// schedule is a schedule open from opens to closes (relative to now), version v.
func schedule(opens, closes time.Duration, v int64) store.Schedule {
	now := time.Now()
	return store.Schedule{OpensAt: now.Add(opens).Truncate(time.Microsecond).UTC(),
		ClosesAt: now.Add(closes).Truncate(time.Microsecond).UTC(), Version: v}
}

// OpenBox records a schedule open from an hour ago to an hour from now.
func OpenBox(t *testing.T, s store.Store) {
	t.Helper()
	if applied, err := s.SetSchedule(t.Context(), schedule(-time.Hour, time.Hour, 1)); err != nil || !applied {
		t.Fatalf("SetSchedule: applied=%v, %v", applied, err)
	}
}

func sameSchedule(a, b store.Schedule) bool {
	return a.OpensAt.Equal(b.OpensAt) && a.ClosesAt.Equal(b.ClosesAt) && a.Version == b.Version
}

func recorded(t *testing.T, s store.Store) store.State {
	t.Helper()
	st, err := s.State(t.Context())
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st
}

// closeWhenDue calls SetClosed until the recorded closesAt has passed by the
// store's clock and the close is recorded.
func closeWhenDue(t *testing.T, s store.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.SetClosed(t.Context())
		if err == nil {
			return
		}
		if !errors.Is(err, store.ErrNotDue) || time.Now().After(deadline) {
			t.Fatalf("SetClosed: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testCastWithoutSchedule: with no schedule recorded, the box is not open.
func testCastWithoutSchedule(t *testing.T, s store.Store) {
	vs := voters(1)
	importRoll(t, s, vs, "d")
	if err := s.Cast(t.Context(), vs[0].ID, ballot("t")); !errors.Is(err, store.ErrNotOpen) {
		t.Errorf("Cast with no schedule recorded: %v, want ErrNotOpen", err)
	}
	if _, err := s.SetClosed(t.Context()); !errors.Is(err, store.ErrNotDue) {
		t.Errorf("SetClosed with no schedule recorded: %v, want ErrNotDue", err)
	}
	if _, c := counts(t, s); c != 0 {
		t.Errorf("%d ballots cast into a box with no schedule", c)
	}
}

// testCastBeforeOpens: before the recorded opensAt, casts fail with ErrNotOpen.
func testCastBeforeOpens(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(2)
	importRoll(t, s, vs, "d")
	must(t, mustApply(s.SetSchedule(ctx, schedule(time.Hour, 2*time.Hour, 1))))
	if err := s.Cast(ctx, vs[0].ID, ballot("t0")); !errors.Is(err, store.ErrNotOpen) {
		t.Errorf("Cast before opensAt: %v, want ErrNotOpen", err)
	}
	if voted, _ := s.HasVoted(ctx, vs[0].ID); voted {
		t.Error("a refused Cast marked the voter")
	}
	// `kubectl scrutin open`: opensAt moves to now
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Second, 2*time.Hour, 2))))
	must(t, s.Cast(ctx, vs[0].ID, ballot("t0")))
}

// testCastAfterClose is the finding "a receipt for a ballot that is never
// counted" at the store: once the recorded closesAt has passed, and once the close
// is recorded, a cast fails with ErrClosed and stores nothing.
func testCastAfterClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(4)
	importRoll(t, s, vs, "d")
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Hour, 300*time.Millisecond, 1))))
	must(t, s.Cast(ctx, vs[0].ID, ballot("t0")))
	time.Sleep(time.Until(recorded(t, s).Schedule.ClosesAt) + 50*time.Millisecond)
	if err := s.Cast(ctx, vs[1].ID, ballot("t1")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Cast after closesAt, before the close is recorded: %v, want ErrClosed", err)
	}
	closeWhenDue(t, s)
	if err := s.Cast(ctx, vs[2].ID, ballot("t2")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Cast after the close: %v, want ErrClosed", err)
	}
	if err := s.Cast(ctx, "intruder", ballot("t3")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Cast for a voter not on the roll after the close: %v, want ErrClosed", err)
	}
	for _, v := range vs[1:] {
		if voted, _ := s.HasVoted(ctx, v.ID); voted {
			t.Errorf("%s is marked as having voted after a refused Cast", v.ID)
		}
	}
	if bs, err := s.Ballots(ctx); err != nil || len(bs) != 1 || bs[0].Tracker != "t0" {
		t.Errorf("Ballots after the close = %+v, %v; want only t0", bs, err)
	}
}

// testCloseOnlyOnceDue: the close is refused before the recorded closesAt, then
// recorded once.
func testCloseOnlyOnceDue(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, mustApply(s.SetSchedule(ctx, schedule(-time.Hour, 200*time.Millisecond, 1))))
	if changed, err := s.SetClosed(ctx); !errors.Is(err, store.ErrNotDue) || changed {
		t.Errorf("SetClosed before closesAt: %v, %v; want ErrNotDue", changed, err)
	}
	if recorded(t, s).Closed {
		t.Error("a refused close is recorded")
	}
	time.Sleep(300 * time.Millisecond)
	if changed, err := s.SetClosed(ctx); err != nil || !changed {
		t.Errorf("SetClosed after closesAt: %v, %v; want the close recorded", changed, err)
	}
	if changed, err := s.SetClosed(ctx); err != nil || changed {
		t.Errorf("second SetClosed: %v, %v; want false (recorded once)", changed, err)
	}
}

// testScheduleVersions: a schedule replaces the recorded one only with a greater
// version; a stale one (an old pod's file) is ignored.
func testScheduleVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	v2 := schedule(-time.Hour, time.Hour, 2)
	must(t, mustApply(s.SetSchedule(ctx, v2)))
	for _, stale := range []store.Schedule{schedule(-time.Hour, time.Minute, 1), schedule(-time.Hour, time.Minute, 2)} {
		if applied, err := s.SetSchedule(ctx, stale); err != nil || applied {
			t.Errorf("SetSchedule version %d over version 2: %v, %v; want ignored", stale.Version, applied, err)
		}
	}
	if got := recorded(t, s).Schedule; !sameSchedule(got, v2) {
		t.Errorf("the schedule moved back: %+v, want %+v", got, v2)
	}
	v3 := schedule(-time.Hour, 3*time.Hour, 3)
	must(t, mustApply(s.SetSchedule(ctx, v3)))
	if got := recorded(t, s).Schedule; !sameSchedule(got, v3) {
		t.Errorf("schedule %+v, want %+v", got, v3)
	}
	for _, bad := range []store.Schedule{schedule(0, -time.Second, 9), schedule(-time.Hour, time.Hour, 0)} {
		if _, err := s.SetSchedule(ctx, bad); err == nil {
			t.Errorf("SetSchedule(%+v) accepted", bad)
		}
	}
}

// testScheduleAfterClose: once the box is closed its schedule is final: an extend
// (or any newer schedule) fails with ErrClosed and the box stays closed.
func testScheduleAfterClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(1)
	importRoll(t, s, vs, "d")
	first := schedule(-time.Hour, 100*time.Millisecond, 1)
	must(t, mustApply(s.SetSchedule(ctx, first)))
	time.Sleep(150 * time.Millisecond)
	closeWhenDue(t, s)
	if applied, err := s.SetSchedule(ctx, schedule(-time.Hour, time.Hour, 2)); !errors.Is(err, store.ErrClosed) || applied {
		t.Errorf("SetSchedule after the close: %v, %v; want ErrClosed", applied, err)
	}
	st := recorded(t, s)
	if !st.Closed || !sameSchedule(st.Schedule, first) {
		t.Errorf("State after a refused extend = %+v", st)
	}
	if err := s.Cast(ctx, vs[0].ID, ballot("t")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Cast after a refused extend: %v, want ErrClosed", err)
	}
}

// testCastsRacingClose: many casts in flight while the close comes; the box is
// read right after SetClosed returns, and every cast that succeeded is in it.
func testCastsRacingClose(t *testing.T, s store.Store) {
	const n = 300
	vs := voters(n)
	importRoll(t, s, vs, "d")
	must(t, mustApply(s.SetSchedule(t.Context(), schedule(-time.Hour, 250*time.Millisecond, 1))))
	receipts, snapshot := castWhileMoving(t, s, vs, nil)
	checkReceipts(t, receipts, snapshot)
	if len(receipts) == 0 || len(receipts) == n {
		t.Logf("%d of %d casts before the close: the race was not exercised", len(receipts), n)
	}
}

// testRandomScheduleMoves is a property test: while voters cast, the schedule
// moves at random (extends, early closes, openings moved, stale versions), as
// `kubectl scrutin extend/close/open` and pods with old files would; whatever the
// moves, the receipts (successful casts) are exactly the ballots counted after
// the close. SCRUTIN_SCHEDULE_ROUNDS sets the number of rounds (default 3).
func testRandomScheduleMoves(t *testing.T, fresh func(*testing.T) store.Store) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("SCRUTIN_SCHEDULE_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for round := range rounds {
		seed := uint64(time.Now().UnixNano())
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 14))
			s := fresh(t)
			vs := voters(120)
			importRoll(t, s, vs, "d")
			must(t, mustApply(s.SetSchedule(t.Context(), schedule(-time.Hour, 150*time.Millisecond, 10))))
			version := int64(10)
			move := func() {
				version++
				v := version
				switch rng.IntN(5) {
				case 0: // extend
					_, _ = s.SetSchedule(t.Context(), schedule(-time.Hour, time.Duration(50+rng.IntN(200))*time.Millisecond, v))
				case 1: // close now
					_, _ = s.SetSchedule(t.Context(), schedule(-time.Hour, 0, v))
				case 2: // opening moved later, then back (open)
					_, _ = s.SetSchedule(t.Context(), schedule(time.Duration(rng.IntN(50))*time.Millisecond, 200*time.Millisecond, v))
				case 3: // a pod with a stale file
					_, _ = s.SetSchedule(t.Context(), schedule(-time.Hour, time.Hour, v-int64(2+rng.IntN(5))))
				default: // a close attempt, due or not
					_, _ = s.SetClosed(t.Context())
				}
			}
			receipts, snapshot := castWhileMoving(t, s, vs, move)
			checkReceipts(t, receipts, snapshot)
			t.Logf("%d receipts after %d schedule versions", len(receipts), version-10)
		})
	}
}

// castWhileMoving has every voter cast (each retrying until a receipt or
// ErrClosed), move called every few milliseconds meanwhile, and a closer calling
// SetClosed until it is recorded, then reading the box at once. It returns the
// trackers of the successful casts and that read of the box.
func castWhileMoving(t *testing.T, s store.Store, vs []store.Voter, move func()) (receipts, snapshot map[string]bool) {
	t.Helper()
	ctx := t.Context()
	var mu sync.Mutex
	receipts = map[string]bool{}
	var closed atomic.Bool
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for try := 0; ; try++ {
				sem <- struct{}{}
				tr := fmt.Sprintf("t-%04d-%d", i, try)
				err := s.Cast(ctx, v.ID, ballot(tr))
				<-sem
				switch {
				case err == nil:
					mu.Lock()
					receipts[tr] = true
					mu.Unlock()
					return
				case errors.Is(err, store.ErrClosed) && closed.Load():
					return
				case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrNotOpen):
					time.Sleep(time.Millisecond) // the schedule may move again
				default:
					t.Errorf("Cast(%s): %v", v.ID, err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	var movers sync.WaitGroup
	if move != nil {
		movers.Add(1)
		go func() {
			defer movers.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(3 * time.Millisecond):
					move()
				}
			}
		}()
	}
	// the closer: the box is read the moment the close returns
	deadline := time.Now().Add(20 * time.Second)
	for {
		changed, err := s.SetClosed(ctx)
		if err == nil {
			st := recorded(t, s)
			if !st.Closed {
				t.Fatalf("SetClosed returned %v, nil but the state is not closed", changed)
			}
			break
		}
		if !errors.Is(err, store.ErrNotDue) {
			t.Fatalf("SetClosed: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the box never closed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	bs, err := s.Ballots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closed.Store(true)
	close(stop)
	movers.Wait()
	wg.Wait()
	snapshot = map[string]bool{}
	for _, b := range bs {
		snapshot[b.Tracker] = true
	}
	// and the box does not change after the close
	if later, err := s.Ballots(ctx); err != nil || len(later) != len(bs) {
		t.Errorf("the box changed after the close: %d ballots, then %d (%v)", len(bs), len(later), err)
	}
	return receipts, snapshot
}

// checkReceipts: receipts == counted, exactly.
func checkReceipts(t *testing.T, receipts, counted map[string]bool) {
	t.Helper()
	uncounted := 0
	for tr := range receipts {
		if !counted[tr] {
			uncounted++
		}
	}
	if uncounted > 0 || len(counted) != len(receipts) {
		t.Errorf("%d successful casts, %d ballots in the box read right after the close, %d receipts not in it; want receipts == counted",
			len(receipts), len(counted), uncounted)
	}
}

// mustApply turns a SetSchedule that was ignored into an error.
func mustApply(applied bool, err error) error {
	if err == nil && !applied {
		return errors.New("SetSchedule: the schedule was not applied")
	}
	return err
}
