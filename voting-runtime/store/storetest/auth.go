package storetest

import (
	"errors"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
)

func testSignIns(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.SignIn(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SignIn before any: %v, want ErrNotFound", err)
	}
	p := store.PendingSignIn{
		VoterID: "v1",
		Codes: []store.PendingCode{
			{Hash: []byte("code-hash-1"), ExpiresAt: at(10)},
			{Hash: []byte("code-hash-2"), ExpiresAt: at(12)},
			{Hash: []byte("code-hash-3"), ExpiresAt: at(11)},
		},
		LastSentAt: at(2),
		ExpiresAt:  at(15),
	}
	must(t, s.PutSignIn(ctx, p))
	other := store.PendingSignIn{VoterID: "v2", Codes: []store.PendingCode{{Hash: []byte("x"), ExpiresAt: at(3)}},
		LastSentAt: at(0), ExpiresAt: at(5)}
	must(t, s.PutSignIn(ctx, other))
	if got, err := s.SignIn(ctx, "v1"); err != nil || !sameSignIn(got, p) {
		t.Errorf("SignIn = %+v, %v; want %+v", got, err, p)
	}
	// A put replaces everything, codes included.
	p.Codes, p.LastSentAt = p.Codes[:1], at(4)
	must(t, s.PutSignIn(ctx, p))
	if got, err := s.SignIn(ctx, "v1"); err != nil || !sameSignIn(got, p) {
		t.Errorf("SignIn after a second put = %+v, %v; want %+v", got, err, p)
	}

	must(t, s.DeleteSignIn(ctx, "v1"))
	if _, err := s.SignIn(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SignIn after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSignIn(ctx, "v1"); err != nil {
		t.Errorf("deleting a deleted sign-in: %v, want nil", err)
	}
	if got, err := s.SignIn(ctx, "v2"); err != nil || !sameSignIn(got, other) {
		t.Errorf("another voter's sign-in = %+v, %v; want it untouched", got, err)
	}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := store.Session{IDHash: []byte("session-a"), VoterID: "v1", CreatedAt: at(0), LastSeenAt: at(0)}
	b := store.Session{IDHash: []byte("session-b"), VoterID: "v2", CreatedAt: at(0), LastSeenAt: at(5)}
	c := store.Session{IDHash: []byte("session-c"), VoterID: "v1", CreatedAt: at(0), LastSeenAt: at(20)}
	for _, ss := range []store.Session{a, b, c} {
		must(t, s.CreateSession(ctx, ss))
	}
	if err := s.CreateSession(ctx, a); err == nil {
		t.Error("creating a session whose id hash is in use succeeded")
	}
	if got, err := s.Session(ctx, a.IDHash); err != nil || !sameSession(got, a) {
		t.Errorf("Session = %+v, %v; want %+v", got, err, a)
	}
	if _, err := s.Session(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session(unknown): %v, want ErrNotFound", err)
	}

	must(t, s.TouchSession(ctx, a.IDHash, at(10)))
	a.LastSeenAt = at(10)
	if got, _ := s.Session(ctx, a.IDHash); !sameSession(got, a) {
		t.Errorf("after TouchSession: %+v, want %+v", got, a)
	}
	must(t, s.TouchSession(ctx, a.IDHash, at(7))) // late, from a slower pod
	if got, _ := s.Session(ctx, a.IDHash); !got.LastSeenAt.Equal(at(10)) {
		t.Errorf("TouchSession moved last activity back to %v", got.LastSeenAt)
	}
	if err := s.TouchSession(ctx, []byte("nope"), at(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TouchSession(unknown): %v, want ErrNotFound", err)
	}

	// Seen since at(10): a (10) and c (20), not b (5).
	if n, err := s.ActiveSessions(ctx, at(10)); err != nil || n != 2 {
		t.Errorf("ActiveSessions(since 10) = %d, %v; want 2", n, err)
	}

	// Idle since before at(11): a (10) and b (5), not c (20).
	if n, err := s.DeleteSessionsBefore(ctx, at(11)); err != nil || n != 2 {
		t.Errorf("DeleteSessionsBefore = %d, %v; want 2", n, err)
	}
	if _, err := s.Session(ctx, b.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an idle session survived: %v", err)
	}
	if n, err := s.DeleteSessionsBefore(ctx, at(20)); err != nil || n != 0 {
		t.Errorf("DeleteSessionsBefore(exactly c's last activity) = %d, %v; want 0", n, err)
	}
	must(t, s.DeleteSession(ctx, c.IDHash))
	if _, err := s.Session(ctx, c.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Session after DeleteSession: %v, want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, c.IDHash); err != nil {
		t.Errorf("deleting a deleted session: %v, want nil", err)
	}
}
