package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
)

func testCast(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(3)
	importRoll(t, s, vs, "d")
	b := ballot("tracker-1")
	b.Weight = vs[2].Weight
	must(t, s.Cast(ctx, vs[2].ID, b))
	for i, want := range []bool{false, false, true} {
		if voted, err := s.HasVoted(ctx, vs[i].ID); err != nil || voted != want {
			t.Errorf("HasVoted(%s) = %v, %v; want %v", vs[i].ID, voted, err, want)
		}
	}
	if err := s.Cast(ctx, vs[2].ID, ballot("tracker-2")); !errors.Is(err, store.ErrAlreadyVoted) {
		t.Errorf("second Cast: %v, want ErrAlreadyVoted", err)
	}
	bs, err := s.Ballots(ctx)
	if err != nil || len(bs) != 1 || !sameBallot(bs[0], b) {
		t.Errorf("Ballots = %+v, %v; want just %+v", bs, err, b)
	}
	if n, c := counts(t, s); n != 3 || c != 1 {
		t.Errorf("Counts = %d, %d; want 3, 1", n, c)
	}
}

func testCastUnknownVoter(t *testing.T, s store.Store) {
	ctx := t.Context()
	importRoll(t, s, voters(2), "d")
	if err := s.Cast(ctx, "intruder", ballot("t")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cast for a voter not on the roll: %v, want ErrNotFound", err)
	}
	if bs, err := s.Ballots(ctx); err != nil || len(bs) != 0 {
		t.Errorf("Ballots = %+v, %v; want none", bs, err)
	}
	if voted, err := s.HasVoted(ctx, "intruder"); err != nil || voted {
		t.Errorf("HasVoted(intruder) = %v, %v; want false", voted, err)
	}
	if _, c := counts(t, s); c != 0 {
		t.Errorf("Counts: %d cast, want 0", c)
	}
}

// testCastTrackerTaken casts a ballot whose tracker is already in the box: it is
// refused, but not as ErrAlreadyVoted, and the voter has not voted.
func testCastTrackerTaken(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(2)
	importRoll(t, s, vs, "d")
	must(t, s.Cast(ctx, vs[0].ID, ballot("same")))
	err := s.Cast(ctx, vs[1].ID, ballot("same"))
	if err == nil || errors.Is(err, store.ErrAlreadyVoted) {
		t.Errorf("Cast with a tracker already in the box: %v, want another error", err)
	}
	if voted, _ := s.HasVoted(ctx, vs[1].ID); voted {
		t.Error("the refused Cast marked the voter as having voted")
	}
	must(t, s.Cast(ctx, vs[1].ID, ballot("other")))
}

// testCastSameVoter casts for one voter from 200 goroutines at once: exactly one
// succeeds.
func testCastSameVoter(t *testing.T, s store.Store) {
	const n = 200
	vs := voters(1)
	importRoll(t, s, vs, "d")
	errs := parallel(n, func(i int) error { return s.Cast(t.Context(), vs[0].ID, ballot(fmt.Sprintf("t%03d", i))) })
	ok, already := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrAlreadyVoted):
			already++
		default:
			t.Errorf("Cast: %v", err)
		}
	}
	if ok != 1 || already != n-1 {
		t.Errorf("%d successes and %d ErrAlreadyVoted; want 1 and %d", ok, already, n-1)
	}
	if bs, err := s.Ballots(t.Context()); err != nil || len(bs) != 1 {
		t.Errorf("%d ballots in the box (%v); want 1", len(bs), err)
	}
}

// testCastManyVoters casts for 500 voters at once.
func testCastManyVoters(t *testing.T, s store.Store) {
	const n = 500
	vs := voters(n)
	importRoll(t, s, vs, "d")
	errs := parallel(n, func(i int) error { return s.Cast(t.Context(), vs[i].ID, ballot(fmt.Sprintf("t%03d", i))) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("Cast(%s): %v", vs[i].ID, err)
		}
	}
	if v, c := counts(t, s); v != n || c != n {
		t.Errorf("Counts = %d, %d; want %d, %d", v, c, n, n)
	}
	if bs, err := s.Ballots(t.Context()); err != nil || len(bs) != n {
		t.Errorf("%d ballots (%v), want %d", len(bs), err, n)
	}
	ps, err := s.Participation(t.Context())
	if err != nil || len(ps) != n {
		t.Fatalf("Participation: %d rows, %v", len(ps), err)
	}
	for _, p := range ps {
		if !p.Voted {
			t.Errorf("%s voted but Participation says not", p.Voter.ID)
		}
	}
}

// testOrder checks that Ballots come sorted by tracker and Participation by voter
// id, in byte order, whatever the order of casting.
func testOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := []string{"b", "A", "a", "10", "9", "é", "Z"}
	var vs []store.Voter
	for _, id := range ids {
		vs = append(vs, store.Voter{ID: id, Name: "n-" + id, Weight: 1})
	}
	importRoll(t, s, vs, "d")
	trackers := map[string]string{"b": "x-2", "a": "X-1", "9": "m", "é": "ä"}
	for _, id := range []string{"é", "9", "b", "a"} {
		must(t, s.Cast(ctx, id, ballot(trackers[id])))
	}

	bs, err := s.Ballots(ctx)
	must(t, err)
	var got []string
	for _, b := range bs {
		got = append(got, b.Tracker)
	}
	if want := []string{"X-1", "m", "x-2", "ä"}; !slices.Equal(got, want) {
		t.Errorf("Ballots in order %q, want %q (sorted by tracker, bytewise)", got, want)
	}

	ps, err := s.Participation(ctx)
	must(t, err)
	got = nil
	for _, p := range ps {
		got = append(got, p.Voter.ID)
		if _, voted := trackers[p.Voter.ID]; p.Voted != voted {
			t.Errorf("Participation says %s voted=%v, want %v", p.Voter.ID, p.Voted, voted)
		}
		if p.Voter.Name != "n-"+p.Voter.ID {
			t.Errorf("Participation row %s has name %q", p.Voter.ID, p.Voter.Name)
		}
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Participation in order %q, want %q (sorted by voter id, bytewise)", got, want)
	}
}

// testBallotColumns checks that the ballots table holds nothing but a random id,
// the payload, the weight and the tracker: no voter id, no time, no sequence.
func testBallotColumns(t *testing.T, s store.Store) {
	bc, ok := s.(BallotColumner)
	if !ok {
		t.Skip("the store does not list its ballot columns")
	}
	cols, err := bc.BallotColumns(t.Context())
	must(t, err)
	slices.Sort(cols)
	if want := []string{"id", "payload", "tracker", "weight"}; !slices.Equal(cols, want) {
		t.Errorf("the ballots table has columns %q, want exactly %q", cols, want)
	}
}

// testSealBallots: sealing keeps every ballot, weight and tracker, and the box can be
// sealed again.
func testSealBallots(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(20)
	importRoll(t, s, vs, "d")
	for i, v := range vs {
		b := ballot(fmt.Sprintf("tracker-%02d", (i*7)%20))
		b.Weight = v.Weight
		must(t, s.Cast(ctx, v.ID, b))
	}
	before, err := s.Ballots(ctx)
	must(t, err)
	must(t, s.SealBallots(ctx))
	must(t, s.SealBallots(ctx))
	after, err := s.Ballots(ctx)
	must(t, err)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("sealing changed the box:\nbefore %v\nafter  %v", before, after)
	}
	if _, c, err := s.Counts(ctx); err != nil || c != 20 {
		t.Errorf("Counts after sealing: %d cast, %v", c, err)
	}
}
