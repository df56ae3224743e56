package storetest

import (
	"errors"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// testCodeSentDuringALockoutIsNeverRecorded: a code reserved before a concurrent
// lockout (ReserveCode, then the lockout, then UpdateSignIn) is not recorded: it
// would work once the lockout ends.
func testCodeSentDuringALockoutIsNeverRecorded(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "first", 0)))
	if _, ok, err := s.ReserveCode(ctx, "v1", at(1), time.Minute); err != nil || !ok {
		t.Fatalf("ReserveCode = %v, %v; want a reservation", ok, err)
	}
	for n := 0; n < guardPolicy.MaxFailures; n++ {
		if _, err := s.AttemptSignIn(ctx, "v1", at(1), guardPolicy, guardCheck("wrong"), nil); err != nil {
			t.Fatal(err)
		}
	}
	err := s.UpdateSignIn(ctx, "v1", at(1), func(cur *store.PendingSignIn) store.PendingSignIn {
		return guardSignIn("v1", "sent-during-the-lockout", 1)
	})
	if !errors.Is(err, store.ErrLockedOut) {
		t.Errorf("UpdateSignIn during a lockout = %v; want ErrLockedOut", err)
	}
	if p, err := s.SignIn(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a code sent during the lockout was recorded: %+v, %v", p, err)
	}
	// After the lockout the code still does not work: nothing to check.
	a, err := s.AttemptSignIn(ctx, "v1", at(3), guardPolicy, guardCheck("sent-during-the-lockout"), nil)
	if err != nil || a.Verdict == store.Right {
		t.Errorf("the code sent during the lockout signs in after it: %+v, %v", a, err)
	}
}

// testEscalationDecays: after DecayAfter without a wrong code, the failures and
// the escalation start over; before it, they do not.
func testEscalationDecays(t *testing.T, s store.Store) {
	ctx := t.Context()
	policy := guardPolicy
	policy.DecayAfter = 24 * time.Hour
	lockOnce := func(m int) store.Attempt {
		t.Helper()
		var a store.Attempt
		for n := 0; n < policy.MaxFailures; n++ {
			var err error
			if a, err = s.AttemptSignIn(ctx, "v1", at(m), policy, guardCheck("wrong"), nil); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 0)))
	if a := lockOnce(0); a.Guard.Lockouts != 1 {
		t.Fatalf("first lockout: %+v", a.Guard)
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 10)))
	if a := lockOnce(10); a.Guard.Lockouts != 2 || !a.Guard.LockedUntil.Equal(at(15)) {
		t.Fatalf("second lockout within the day: %+v; want the second step (5 min)", a.Guard)
	}
	// A day and a minute after the last wrong code: the escalation is forgotten.
	day := int((24*time.Hour + time.Minute) / time.Minute)
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 10+day)))
	a, err := s.AttemptSignIn(ctx, "v1", at(10+day), policy, guardCheck("wrong"), nil)
	if err != nil || a.Guard.Failures != 1 || a.Guard.Lockouts != 0 {
		t.Fatalf("a wrong code a day after the last one = %+v, %v; want 1 failure, no lockout left", a.Guard, err)
	}
	if a := lockOnce(10 + day); a.Guard.Lockouts != 1 || !a.Guard.LockedUntil.Equal(at(11+day)) {
		t.Errorf("the next lockout = %+v; want the first step again (1 min)", a.Guard)
	}
}

// testHotlineUnlock: Unlock ends a lockout at once and the escalation starts
// over; the cooldown is kept.
func testHotlineUnlock(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, ok, err := s.ReserveCode(ctx, "v1", at(0), time.Minute); err != nil || !ok {
		t.Fatalf("ReserveCode = %v, %v", ok, err)
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 0)))
	for n := 0; n < guardPolicy.MaxFailures; n++ {
		if _, err := s.AttemptSignIn(ctx, "v1", at(0), guardPolicy, guardCheck("wrong"), nil); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.Unlock(ctx, "v1")
	if err != nil || !before.Locked(at(0)) || before.Lockouts != 1 {
		t.Fatalf("Unlock = %+v, %v; want the guard as it was (locked, 1 lockout)", before, err)
	}
	g, err := s.Guard(ctx, "v1")
	if err != nil || g.Locked(at(0)) || g.Lockouts != 0 || g.Failures != 0 || !g.LastSentAt.Equal(at(0)) {
		t.Errorf("after Unlock: %+v, %v; want no lockout, no failure, the cooldown kept", g, err)
	}
	if _, ok, err := s.ReserveCode(ctx, "v1", at(1), time.Minute); err != nil || !ok {
		t.Errorf("ReserveCode after Unlock and the cooldown = %v, %v; want a reservation", ok, err)
	}
	if g, err := s.Unlock(ctx, "nobody"); err != nil || g.Locked(at(0)) {
		t.Errorf("Unlock of a voter with no guard = %+v, %v", g, err)
	}
}

// testSignInClearsTheResendCooldown: a successful sign-in ends the codes, so it
// ends their cooldown too: a voter who signs in then asks again gets a new code,
// not "a code was just sent, and it still works".
func testSignInClearsTheResendCooldown(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, ok, err := s.ReserveCode(ctx, "v1", at(0), time.Hour); err != nil || !ok {
		t.Fatalf("ReserveCode = %v, %v", ok, err)
	}
	must(t, s.PutSignIn(ctx, guardSignIn("v1", "right", 0)))
	if a, err := s.AttemptSignIn(ctx, "v1", at(1), guardPolicy, guardCheck("right"), nil); err != nil || a.Verdict != store.Right {
		t.Fatalf("right code = %+v, %v", a, err)
	}
	if g, ok, err := s.ReserveCode(ctx, "v1", at(2), time.Hour); err != nil || !ok {
		t.Errorf("ReserveCode after a successful sign-in, within the cooldown = %v, %v (guard %+v); want a reservation", ok, err, g)
	}
}

// CastsRacingClose is the suite's CastsRacingCloseAllCounted on s (migrated, no
// roll yet), for a store opened with settings of its own.
func CastsRacingClose(t *testing.T, s store.Store) { testCastsRacingClose(t, s) }
