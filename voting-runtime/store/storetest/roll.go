package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

func testImportRoll(t *testing.T, s store.Store) {
	ctx := t.Context()
	if d, err := s.RollDigest(ctx); err != nil || d != "" {
		t.Fatalf("RollDigest before any import = %q, %v; want \"\"", d, err)
	}
	vs := voters(3)
	importRoll(t, s, vs, "d1")
	if d, err := s.RollDigest(ctx); err != nil || d != "d1" {
		t.Errorf("RollDigest = %q, %v; want d1", d, err)
	}
	for _, want := range vs {
		if got, err := s.Voter(ctx, want.ID); err != nil || !sameVoter(got, want) {
			t.Errorf("Voter(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	if _, err := s.Voter(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Voter(nobody): %v, want ErrNotFound", err)
	}

	// The same digest again is a no-op, whatever the voters say.
	if imported, err := s.ImportRoll(ctx, "d1", Entries(voters(1))); err != nil || imported {
		t.Errorf("re-importing digest d1: imported=%v, %v; want false, nil", imported, err)
	}
	if n, _ := counts(t, s); n != 3 {
		t.Errorf("re-importing digest d1 changed the roll: %d voters, want 3", n)
	}

	// A new digest replaces the roll.
	next := []store.Voter{{ID: "w1", Name: "W", Weight: 2}, vs[0]}
	importRoll(t, s, next, "d2")
	if n, _ := counts(t, s); n != 2 {
		t.Errorf("after importing d2: %d voters, want 2", n)
	}
	if _, err := s.Voter(ctx, vs[1].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a voter of the old roll is still there: %v", err)
	}
	if got, err := s.Voter(ctx, "w1"); err != nil || !sameVoter(got, next[0]) {
		t.Errorf("Voter(w1) = %+v, %v", got, err)
	}
	if d, _ := s.RollDigest(ctx); d != "d2" {
		t.Errorf("RollDigest = %q, want d2", d)
	}
}

// testImportRollAllOrNothing imports a roll with a repeated voter id over a good
// one: it fails and leaves the good one as it was.
func testImportRollAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	importRoll(t, s, voters(3), "good")
	bad := voters(5)
	bad[4].ID = bad[0].ID
	if _, err := s.ImportRoll(ctx, "bad", Entries(bad)); err == nil {
		t.Fatal("ImportRoll with a repeated voter id succeeded")
	}
	if d, _ := s.RollDigest(ctx); d != "good" {
		t.Errorf("RollDigest after a failed import = %q, want good", d)
	}
	if n, _ := counts(t, s); n != 3 {
		t.Errorf("after a failed import: %d voters, want 3", n)
	}
	if _, err := s.Voter(ctx, bad[3].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a voter of the failed import is there: %v", err)
	}
	empty := voters(2)
	empty[1].ID = ""
	if _, err := s.ImportRoll(ctx, "empty-id", Entries(empty)); err == nil {
		t.Error("ImportRoll with an empty voter id succeeded")
	}
}

func testRollLocked(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(3)
	importRoll(t, s, vs, "d1")
	must(t, s.Cast(ctx, vs[0].ID, ballot("t")))
	if _, err := s.ImportRoll(ctx, "d2", Entries(voters(4))); !errors.Is(err, store.ErrRollLocked) {
		t.Errorf("ImportRoll after a cast: %v, want ErrRollLocked", err)
	}
	if imported, err := s.ImportRoll(ctx, "d1", Entries(vs)); err != nil || imported {
		t.Errorf("re-importing the current digest after a cast: imported=%v, %v; want a no-op", imported, err)
	}
	if n, c := counts(t, s); n != 3 || c != 1 {
		t.Errorf("Counts = %d, %d; want 3, 1", n, c)
	}
	if d, _ := s.RollDigest(ctx); d != "d1" {
		t.Errorf("RollDigest = %q, want d1", d)
	}
}

// testImportLargeRoll imports, then replaces, a roll of 140,000 voters.
func testImportLargeRoll(t *testing.T, s store.Store) {
	if testing.Short() {
		t.Skip("short mode")
	}
	const n = 140_000
	vs := make([]store.Voter, n)
	for i := range vs {
		vs[i] = store.Voter{ID: fmt.Sprintf("voter-%06d", i), Name: "Some Body", Email: "some.body@example.org",
			Weight: 1, CredentialHash: []byte("0123456789abcdef0123456789abcdef")}
	}
	for _, digest := range []string{"big-1", "big-2"} {
		start := time.Now()
		importRoll(t, s, vs, digest)
		t.Logf("imported %d voters (%s) in %v", n, digest, time.Since(start).Round(time.Millisecond))
	}
	if got, _ := counts(t, s); got != n {
		t.Errorf("Counts: %d voters, want %d", got, n)
	}
	if v, err := s.Voter(t.Context(), "voter-123456"); err != nil || v.Name != "Some Body" {
		t.Errorf("Voter(voter-123456) = %+v, %v", v, err)
	}
}

// Entries streams voters to ImportRoll, without letters.
func Entries(voters []store.Voter) store.RollEntries {
	return func(yield func(store.RollEntry, error) bool) {
		for _, v := range voters {
			if !yield(store.RollEntry{Voter: v}, nil) {
				return
			}
		}
	}
}
