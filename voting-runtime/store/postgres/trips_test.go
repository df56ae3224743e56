package postgres

import (
	"bytes"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// TestRoundTripsOfAJourney: the store's steps of a voter's journey, in round
// trips to the server as the runtime counts and exports them: a code sent (the
// cooldown, the pending sign-in and the message: one transaction), a code
// checked with the session opened (one transaction), and a cast.
func TestRoundTripsOfAJourney(t *testing.T) {
	ctx := t.Context()
	s, ids := openMigrated(t, newDatabase(t, srv), 1)
	id := ids[0]
	now := time.Now().UTC().Truncate(time.Microsecond)
	trips := func(what string, want int64, step func() error) {
		t.Helper()
		before := s.RoundTrips()
		if err := step(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := s.RoundTrips() - before; got != want {
			t.Errorf("%s: %d round trips, want %d", what, got, want)
		}
	}
	code := []byte("code-hash")
	trips("a code sent", 2, func() error {
		_, _, _, err := s.SendCode(ctx, id, now, time.Minute, func(*store.PendingSignIn) store.PendingSignIn {
			return store.PendingSignIn{Codes: []store.PendingCode{{Hash: code, ExpiresAt: now.Add(10 * time.Minute)}},
				LastSentAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		}, store.OutboxMessage{VoterID: id, Kind: store.KindCode, Channel: store.ChannelSMS, Sealed: []byte("sealed"), NotAfter: now.Add(10 * time.Minute)})
		return err
	})
	trips("the code checked, the session opened", 2, func() error {
		sess := store.Session{IDHash: []byte("session"), VoterID: id, CreatedAt: now, LastSeenAt: now}
		a, err := s.AttemptSignIn(ctx, id, now, store.LockoutPolicy{MaxFailures: 3, Lockouts: []time.Duration{time.Minute}},
			func(p *store.PendingSignIn) store.Verdict {
				if p != nil && bytes.Equal(p.Codes[0].Hash, code) {
					return store.Right
				}
				return store.Wrong
			}, &sess)
		if err == nil && a.Verdict != store.Right {
			t.Errorf("verdict %v, want Right", a.Verdict)
		}
		return err
	})
	trips("the cast", 1, func() error {
		return s.Cast(ctx, id, store.Ballot{Payload: []byte("p"), Weight: 1, Tracker: "t"})
	})
}
