package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

var guardPolicy = store.LockoutPolicy{MaxFailures: 3, Lockouts: []time.Duration{time.Minute, 5 * time.Minute}}

// guardCheck is the check of a code against a pending sign-in's hashes.
func guardCheck(code string) func(p *store.PendingSignIn) store.Verdict {
	return func(p *store.PendingSignIn) store.Verdict {
		if p == nil {
			return store.NothingToCheck
		}
		for _, c := range p.Codes {
			if bytes.Equal(c.Hash, []byte(code)) {
				return store.Right
			}
		}
		return store.Wrong
	}
}

func guardSignIn(voterID, code string, m int) store.PendingSignIn {
	return store.PendingSignIn{VoterID: voterID, Codes: []store.PendingCode{{Hash: []byte(code), ExpiresAt: at(m + 10)}},
		LastSentAt: at(m), ExpiresAt: at(m + 15)}
}

func testUpdateSignIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	var seen []bool
	add := func(cur *store.PendingSignIn) store.PendingSignIn {
		seen = append(seen, cur != nil)
		p := guardSignIn("v1", "c", 0)
		if cur != nil {
			p.Codes = append(p.Codes, cur.Codes...)
		}
		return p
	}
	must(t, s.UpdateSignIn(ctx, "v1", at(0), add))
	must(t, s.UpdateSignIn(ctx, "v1", at(0), add))
	got, err := s.SignIn(ctx, "v1")
	if err != nil || len(got.Codes) != 2 || !slices.Equal(seen, []bool{false, true}) {
		t.Errorf("after two updates: %+v, %v (current seen: %v); want two codes, none then one seen", got, err, seen)
	}
}

// testLockout: the MaxFailures-th wrong code starts a lockout that ends the pending
// sign-in; during it nothing is checked; the next lockout is longer; a new pending
// sign-in resets nothing; a right code resets the escalation.
func testLockout(t *testing.T, s store.Store) {
	ctx := t.Context()
	if g, err := s.Guard(ctx, "v1"); err != nil || g != (store.Guard{VoterID: "v1"}) {
		t.Fatalf("Guard of a voter who did nothing = %+v, %v; want the zero Guard", g, err)
	}
	if a, err := s.AttemptSignIn(ctx, "v1", at(0), guardPolicy, guardCheck("x"), nil); err != nil || a.Verdict != store.NothingToCheck || a.Guard.Failures != 0 {
		t.Errorf("an attempt without a pending sign-in = %+v, %v; want NothingToCheck, not counted", a, err)
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 0)))
	for n := 1; n <= 2; n++ {
		a, err := s.AttemptSignIn(ctx, "v1", at(n), guardPolicy, guardCheck("wrong"), nil)
		if err != nil || a.Verdict != store.Wrong || a.Locked || a.Guard.Failures != n || a.Guard.Locked(at(n)) {
			t.Fatalf("wrong code %d = %+v, %v", n, a, err)
		}
	}
	// A new pending sign-in changes nothing in the count.
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 2)))
	a, err := s.AttemptSignIn(ctx, "v1", at(3), guardPolicy, guardCheck("wrong"), nil)
	if err != nil || !a.Guard.LockedUntil.Equal(at(4)) || a.Guard.Lockouts != 1 || a.Guard.Failures != 0 {
		t.Fatalf("third wrong code = %+v, %v; want locked until at(4), one lockout", a, err)
	}
	if _, err := s.SignIn(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pending sign-in survived the lockout: %v", err)
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 3)))
	called := false
	a, err = s.AttemptSignIn(ctx, "v1", at(3).Add(59*time.Second), guardPolicy, func(*store.PendingSignIn) store.Verdict {
		called = true
		return store.Right
	}, nil)

	if err != nil || !a.Locked || called || a.Verdict != store.NothingToCheck {
		t.Errorf("during the lockout = %+v, %v (check called: %v); want Locked, nothing checked", a, err, called)
	}
	for n := 4; n <= 6; n++ {
		a, err = s.AttemptSignIn(ctx, "v1", at(n), guardPolicy, guardCheck("wrong"), nil)
		if err != nil || a.Locked {
			t.Fatalf("wrong code at %d min = %+v, %v", n, a, err)
		}
	}
	if !a.Guard.LockedUntil.Equal(at(11)) || a.Guard.Lockouts != 2 {
		t.Errorf("second lockout = %+v; want 5 minutes, until at(11)", a.Guard)
	}
	g, err := s.Guard(ctx, "v1")
	if err != nil || g != a.Guard {
		t.Errorf("Guard = %+v, %v; want %+v", g, err, a.Guard)
	}
	// After the lockout, a right code signs in and resets the escalation.
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 11)))
	a, err = s.AttemptSignIn(ctx, "v1", at(11), guardPolicy, guardCheck("right"), nil)
	if err != nil || a.Verdict != store.Right || a.Guard.Failures != 0 || a.Guard.Lockouts != 0 || !a.Guard.LockedUntil.IsZero() {
		t.Errorf("right code after the lockout = %+v, %v; want Right, escalation reset", a, err)
	}
	if _, err := s.SignIn(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the pending sign-in survived a right code: %v", err)
	}
	if g, _ := s.Guard(ctx, "v2"); g.Failures != 0 || g.Lockouts != 0 {
		t.Errorf("another voter's guard = %+v", g)
	}
}

// testConcurrentAttempts: 8 wrong codes at once (from 4 Stores when the store can
// be reopened): each counted once, none checked past the limit, no error.
func testConcurrentAttempts(t *testing.T, s store.Store) {
	ctx := t.Context()
	stores := []store.Store{s, s, s, s}
	if r, ok := s.(Reopener); ok {
		for i := 1; i < len(stores); i++ {
			stores[i] = r.Reopen(t)
		}
	}
	policy := store.LockoutPolicy{MaxFailures: 5, Lockouts: []time.Duration{time.Minute}}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 0)))
	var checks atomic.Int32
	attempts := make([]store.Attempt, 8)
	errs := parallel(len(attempts), func(i int) (err error) {
		attempts[i], err = stores[i%len(stores)].AttemptSignIn(ctx, "v1", at(1), policy, func(p *store.PendingSignIn) store.Verdict {
			checks.Add(1)
			return guardCheck("wrong")(p)
		}, nil)

		return err
	})
	failures := map[int]int{}
	var locked, lockedOut int
	for i, err := range errs {
		a := attempts[i]
		switch {
		case err != nil:
			t.Errorf("attempt %d: %v", i, err)
		case a.Locked:
			locked++
		case a.Verdict == store.Wrong && a.Guard.Lockouts == 1:
			lockedOut++
		case a.Verdict == store.Wrong:
			failures[a.Guard.Failures]++
		default:
			t.Errorf("attempt %d = %+v", i, a)
		}
	}
	if checks.Load() != 5 || locked != 3 || lockedOut != 1 || len(failures) != 4 {
		t.Errorf("%d checks, %d refused as locked, %d started the lockout, failure counts seen %v; want 5, 3, 1 and 1…4 once each",
			checks.Load(), locked, lockedOut, failures)
	}
	for n := 1; n <= 4; n++ {
		if failures[n] != 1 {
			t.Errorf("failure count %d seen %d times, want once", n, failures[n])
		}
	}
}

// testReserveCode: one reservation per cooldown, from any number of callers at
// once; the cooldown outlives the pending sign-in and the lockout; a release puts
// back the previous time unless another reservation came since.
func testReserveCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	var oks atomic.Int32
	errs := parallel(8, func(int) error {
		_, ok, err := s.ReserveCode(ctx, "v1", at(0), time.Minute)
		if ok {
			oks.Add(1)
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if oks.Load() != 1 {
		t.Fatalf("%d of 8 concurrent reservations made, want 1", oks.Load())
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "c", 0)))
	must(t, s.DeleteSignIn(ctx, "v1"))
	g, ok, err := s.ReserveCode(ctx, "v1", at(0).Add(59*time.Second), time.Minute)
	if err != nil || ok || !g.LastSentAt.Equal(at(0)) {
		t.Errorf("a reservation within the cooldown, the sign-in deleted = %+v, %v, %v; want refused, last sent at(0)", g, ok, err)
	}
	if _, ok, _ := s.ReserveCode(ctx, "v1", at(1), time.Minute); !ok {
		t.Fatal("a reservation after the cooldown was refused")
	}
	// Released: the cooldown runs from the code before.
	must(t, s.ReleaseCode(ctx, "v1", at(1), at(0)))
	if g, _ := s.Guard(ctx, "v1"); !g.LastSentAt.Equal(at(0)) {
		t.Errorf("after a release, last sent %v; want at(0)", g.LastSentAt)
	}
	// A stale release changes nothing.
	if _, ok, _ := s.ReserveCode(ctx, "v1", at(2), time.Minute); !ok {
		t.Fatal("reservation refused")
	}
	must(t, s.ReleaseCode(ctx, "v1", at(1), at(0)))
	if g, _ := s.Guard(ctx, "v1"); !g.LastSentAt.Equal(at(2)) {
		t.Errorf("a stale release moved last sent to %v; want at(2)", g.LastSentAt)
	}
	// A first code released leaves no trace.
	if _, ok, _ := s.ReserveCode(ctx, "v2", at(0), time.Minute); !ok {
		t.Fatal("reservation refused")
	}
	must(t, s.ReleaseCode(ctx, "v2", at(0), time.Time{}))
	if g, _ := s.Guard(ctx, "v2"); !g.LastSentAt.IsZero() {
		t.Errorf("after releasing the first code, last sent %v; want none", g.LastSentAt)
	}
	// Locked out: no reservation, and the lockout keeps the cooldown.
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "c", 2)))
	policy := store.LockoutPolicy{MaxFailures: 1, Lockouts: []time.Duration{time.Minute}}
	if a, err := s.AttemptSignIn(ctx, "v1", at(3), policy, guardCheck("wrong"), nil); err != nil || !a.Guard.Locked(at(3)) || !a.Guard.LastSentAt.Equal(at(2)) {
		t.Fatalf("lockout = %+v, %v", a, err)
	}
	if g, ok, _ := s.ReserveCode(ctx, "v1", at(3).Add(30*time.Second), 0); ok || !g.Locked(at(3).Add(30*time.Second)) {
		t.Errorf("a reservation during the lockout = %+v, %v; want refused", g, ok)
	}
}

// testSendCode: SendCode records the send, the pending sign-in and the message
// in one commit, or nothing: not within the resend cooldown, not during a
// lockout, not for a message the outbox would refuse; and of concurrent sends
// for one voter, across connections, one goes through.
func testSendCode(t *testing.T, s store.Store) {
	ctx := t.Context()
	vs := voters(2)
	importRoll(t, s, vs, "d")
	id := vs[0].ID
	calls := 0
	withCode := func(code string, m int) func(*store.PendingSignIn) store.PendingSignIn {
		return func(cur *store.PendingSignIn) store.PendingSignIn {
			calls++
			p := guardSignIn(id, code, m)
			if cur != nil {
				p.Codes = append(p.Codes, cur.Codes...)
			}
			return p
		}
	}
	messages := func() int {
		t.Helper()
		ms, err := s.Deliveries(ctx, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms)
	}
	codes := func() []string {
		t.Helper()
		p, err := s.SignIn(ctx, id)
		if err != nil {
			t.Fatalf("SignIn: %v", err)
		}
		var cs []string
		for _, c := range p.Codes {
			cs = append(cs, string(c.Hash))
		}
		return cs
	}

	g, sent, msgID, err := s.SendCode(ctx, id, at(0), time.Minute, withCode("c1", 0), message(id, store.KindCode, store.ChannelMail))
	if err != nil || !sent || msgID == 0 || g.Locked(at(0)) {
		t.Fatalf("the first code = %+v, %v, %d, %v", g, sent, msgID, err)
	}
	delivery(t, s, id, msgID)
	if got, err := s.Guard(ctx, id); err != nil || !got.LastSentAt.Equal(at(0)) {
		t.Errorf("the guard after the send = %+v, %v; want last sent at(0)", got, err)
	}
	if cs := codes(); len(cs) != 1 || cs[0] != "c1" {
		t.Errorf("codes %q, want [c1]", cs)
	}

	// within the cooldown: nothing written, update not called
	calls = 0
	g, sent, _, err = s.SendCode(ctx, id, at(0).Add(30*time.Second), time.Minute, withCode("c2", 0), message(id, store.KindCode, store.ChannelMail))
	if err != nil || sent || !g.LastSentAt.Equal(at(0)) || calls != 0 {
		t.Errorf("within the cooldown = %+v, sent %v, %v, update called %d times; want refused with the guard as it was", g, sent, err, calls)
	}
	if n := messages(); n != 1 {
		t.Errorf("%d messages after a refused send, want 1", n)
	}

	// a message the outbox refuses: nothing written
	if _, _, _, err := s.SendCode(ctx, id, at(2), time.Minute, withCode("c3", 2), store.OutboxMessage{VoterID: id, Kind: "no-such-kind", Channel: store.ChannelMail}); err == nil {
		t.Errorf("a message of no kind was queued")
	}
	if cs := codes(); len(cs) != 1 || messages() != 1 {
		t.Errorf("after a refused message: codes %q, %d messages; want [c1], 1", cs, messages())
	}

	// locked out by wrong codes: no code sent until the lockout ends
	for m := range guardPolicy.MaxFailures {
		if _, err := s.AttemptSignIn(ctx, id, at(3).Add(time.Duration(m)*time.Second), guardPolicy, guardCheck("wrong"), nil); err != nil {
			t.Fatal(err)
		}
	}
	calls = 0
	g, sent, _, err = s.SendCode(ctx, id, at(3).Add(30*time.Second), time.Minute, withCode("c4", 3), message(id, store.KindCode, store.ChannelMail))
	if err != nil || sent || !g.Locked(at(3).Add(30*time.Second)) || calls != 0 {
		t.Errorf("during the lockout = %+v, sent %v, %v, update called %d times; want refused, locked", g, sent, err, calls)
	}
	if n := messages(); n != 1 {
		t.Errorf("%d messages after a send during the lockout, want 1", n)
	}
	g, sent, _, err = s.SendCode(ctx, id, at(5), time.Minute, withCode("c5", 5), message(id, store.KindCode, store.ChannelMail))
	if err != nil || !sent {
		t.Fatalf("after the lockout = %+v, %v, %v", g, sent, err)
	}
	if n := messages(); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}

	// concurrent sends for the other voter: one goes through
	other := vs[1].ID
	var sentCount atomic.Int64
	errs := parallel(20, func(int) error {
		_, ok, _, err := s.SendCode(ctx, other, at(10), time.Minute, func(*store.PendingSignIn) store.PendingSignIn {
			return guardSignIn(other, "x", 10)
		}, message(other, store.KindCode, store.ChannelMail))
		if ok {
			sentCount.Add(1)
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ms, err := s.Deliveries(ctx, other, 100)
	if err != nil || sentCount.Load() != 1 || len(ms) != 1 {
		t.Errorf("20 concurrent sends: %d went through, %d messages queued (%v); want 1 and 1", sentCount.Load(), len(ms), err)
	}
}
