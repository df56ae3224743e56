package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// wrongOf is a code that is not code.
func wrongOf(code string) string {
	if code == "111111" {
		return "222222"
	}
	return "111111"
}

// TestMassLockoutNeedsManyAddresses: "anyone can keep the whole
// roll locked out": one client address gets a budget of wrong codes across all
// voters; past it its tries are refused before any check, without counting against
// the voter, while other addresses are served. Right codes and tries with nothing
// to check cost nothing.
func TestMassLockoutNeedsManyAddresses(t *testing.T) {
	f := newFixture(t, scrutinv1.EmailCode)
	en, err := New(Config{Election: f.en.e, Store: f.store, Hasher: f.en.hasher, Outbox: f.en.outbox, Now: f.clock.Now,
		VoterBurst: -1, Log: f.en.log, AddressWrongCodes: 4, AddressWrongCodeEvery: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	f.en = en
	attacker := WithClientAddress(context.Background(), "192.0.2.1")
	voter := WithClientAddress(context.Background(), "198.51.100.7")
	code1 := f.codeFor(t, "V-1", "camille@example.org")
	code2 := f.codeFor(t, "V-2", "jean@example.org")
	// Tries with nothing to check cost the address nothing.
	for range 10 {
		if _, _, err := en.CompleteSignIn(attacker, "V-3", "123456"); !errors.Is(err, ErrNoPendingSignIn) {
			t.Fatalf("a try without a code asked for: %v", err)
		}
	}
	for i, id := range []string{"V-1", "V-2", "V-1", "V-2"} {
		code := map[string]string{"V-1": code1, "V-2": code2}[id]
		var w *WrongCodeError
		if _, _, err := en.CompleteSignIn(attacker, id, wrongOf(code)); !errors.As(err, &w) {
			t.Fatalf("wrong code %d from the attacker's address: %v", i+1, err)
		}
	}
	var limited *RateLimitedError
	_, _, err = en.CompleteSignIn(attacker, "V-1", wrongOf(code1))
	if !errors.As(err, &limited) || !limited.ByAddress || limited.RetryAfter <= 0 || limited.RetryAfter > 2*time.Minute {
		t.Fatalf("the address's fifth wrong code: %v; want RateLimitedError by address, within 2 minutes", err)
	}
	if !strings.Contains(err.Error(), "your network") {
		t.Errorf("the refusal says %q; want it to name the network, not the voter", err)
	}
	st, err := en.VoterState(context.Background(), "V-1")
	if err != nil || st.Failures != 2 || st.Locked {
		t.Fatalf("V-1 after the refused try: %+v, %v; want 2 failures (the refused try not counted), not locked", st, err)
	}
	if got := testutil.ToFloat64(en.metrics.signIns.WithLabelValues("address-limited")); got != 1 {
		t.Errorf("scrutin_signins_total{result=address-limited} = %v, want 1", got)
	}
	// Another address is served: the voter signs in.
	if _, _, err := en.CompleteSignIn(voter, "V-1", code1); err != nil {
		t.Fatalf("the voter's right code from their own address: %v", err)
	}
	// Right codes cost nothing: the voter's address still has its 4.
	code1 = f.codeFor(t, "V-1", "camille@example.org")
	for i := range 3 {
		var w *WrongCodeError
		if _, _, err := en.CompleteSignIn(voter, "V-1", wrongOf(code1)); !errors.As(err, &w) {
			t.Fatalf("the voter's wrong code %d: %v", i+1, err)
		}
	}
	// Two minutes later the attacker's address has one more.
	f.clock.Add(2 * time.Minute)
	var w *WrongCodeError
	if _, _, err := en.CompleteSignIn(attacker, "V-2", wrongOf(code2)); !errors.As(err, &w) {
		t.Fatalf("the attacker's address two minutes later: %v; want one more wrong code checked", err)
	}
	if _, _, err := en.CompleteSignIn(attacker, "V-2", wrongOf(code2)); !errors.As(err, &limited) {
		t.Fatalf("and the next: %v; want refused again", err)
	}
}

// TestHotlineUnlockEndsALockout: "nobody can unlock it": the
// hotline's unlock ends the lockout at once, the escalation starts over, it is
// logged without a secret and counted.
func TestHotlineUnlockEndsALockout(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	code := f.codeFor(t, "V-1", "camille@example.org")
	for range 5 {
		_, _, _ = f.en.CompleteSignIn(ctx, "V-1", wrongOf(code))
	}
	if st, err := f.en.VoterState(ctx, "V-1"); err != nil || !st.Locked {
		t.Fatalf("after 5 wrong codes: %+v, %v; want locked", st, err)
	}
	st, err := f.en.UnlockVoter(ctx, "V-1")
	if err != nil || st.Locked || st.Lockouts != 0 || st.Failures != 0 {
		t.Fatalf("UnlockVoter = %+v, %v; want unlocked, the escalation forgotten", st, err)
	}
	if got := testutil.ToFloat64(f.en.metrics.unlocks); got != 1 {
		t.Errorf("scrutin_voter_unlocks_total = %v, want 1", got)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "unlocked") || strings.Contains(logs, code) || strings.Contains(logs, "camille@") {
		t.Errorf("the unlock's log line is missing, or holds a code or an address:\n%s", logs)
	}
	f.clock.Add(time.Minute) // the resend cooldown is kept
	code = f.codeFor(t, "V-1", "camille@example.org")
	if _, _, err := f.en.CompleteSignIn(ctx, "V-1", code); err != nil {
		t.Fatalf("a new code after the unlock: %v", err)
	}
	if _, err := f.en.UnlockVoter(ctx, "nobody"); !errors.Is(err, ErrUnknownVoter) {
		t.Errorf("UnlockVoter of an id not on the roll: %v", err)
	}
}

// TestResendTooSoonNeverSaysADeadCodeStillWorks: "a code was just
// sent, and it still works can be untrue": after a successful sign-in the voter
// who asks again gets a new code (the sign-in ended the cooldown with the codes);
// after a lockout shorter than the cooldown, the voter is told no code works and
// when to ask, not that the code still works.
func TestResendTooSoonNeverSaysADeadCodeStillWorks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	e := f.en.e.DeepCopy()
	e.Spec.Authentication.ResendCooldown.Duration = 5 * time.Minute
	en, err := New(Config{Election: e, Store: f.store, Hasher: f.en.hasher, Outbox: f.en.outbox, Now: f.clock.Now, Log: f.en.log})
	if err != nil {
		t.Fatal(err)
	}
	f.en = en
	code := f.codeFor(t, "V-1", "camille@example.org")
	f.clock.Add(10 * time.Second)
	if _, _, err := en.CompleteSignIn(ctx, "V-1", code); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(10 * time.Second)
	if _, err := en.StartSignIn(ctx, "V-1"); err != nil {
		t.Fatalf("asking for a code again after signing in, within the cooldown: %v; want a new code (the last one no longer works)", err)
	}
	code = f.waitCode(t, "camille@example.org")
	for range 5 {
		f.clock.Add(3 * time.Second)
		_, _, _ = en.CompleteSignIn(ctx, "V-1", wrongOf(code))
	}
	f.clock.Add(time.Minute + time.Second) // the lockout is over, the cooldown is not
	_, err = en.StartSignIn(ctx, "V-1")
	var tooSoon *ResendTooSoonError
	if !errors.As(err, &tooSoon) || strings.Contains(err.Error(), "just sent") || !strings.Contains(err.Error(), "ask for a new one in") {
		t.Fatalf("asking after a lockout, within the cooldown: %v; want 'no code works, ask for a new one in N seconds'", err)
	}
	// While a code does work, the voter is told so.
	f.clock.Add(5 * time.Minute)
	_ = f.codeFor(t, "V-2", "jean@example.org")
	f.clock.Add(10 * time.Second)
	if _, err := en.StartSignIn(ctx, "V-2"); !errors.As(err, &tooSoon) || tooSoon.NoValidCode || !strings.Contains(err.Error(), "just sent") {
		t.Errorf("asking again while a code works: %v; want 'a code was just sent'", err)
	}
}

// TestGuessingOddsPerVoterPerDay measures an attacker's best odds against one
// voter over a simulated day, under the store's limits alone (no per-pod brake,
// no per-address budget: as if from unlimited addresses): after each lockout it
// asks for codes, one per resend cooldown, until maxCodesPerSignIn are valid at
// once, then guesses until locked out again. Each guess of a 6-digit code matches
// one of the v codes valid then with probability v/10^6; the day's odds are at
// most the sum of v over the guesses checked.
func TestGuessingOddsPerVoterPerDay(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	f.clock.Add(time.Hour) // open
	en := twoDayEngine(t, f)
	start := f.clock.Now()
	checks, validSum, codesSent, guess := 0, 0, 0, 0
	valid := func() int {
		st, err := en.VoterState(ctx, "V-1")
		if err != nil {
			t.Fatal(err)
		}
		if st.PendingSignIn == nil {
			return 0
		}
		return st.PendingSignIn.Codes
	}
	for f.clock.Now().Before(start.Add(24 * time.Hour)) {
		// Ask for codes until maxCodesPerSignIn are valid.
		if valid() < maxCodesPerSignIn {
			_, err := en.StartSignIn(ctx, "V-1")
			if err == nil {
				codesSent++
				f.clock.Add(time.Second)
				continue
			}
			if w := waitOf(err); w > 0 {
				f.clock.Add(w)
				continue
			}
			t.Fatalf("asking for a code: %v", err)
		}
		for f.clock.Now().Before(start.Add(24 * time.Hour)) {
			v := valid()
			guess++
			_, _, err := en.CompleteSignIn(ctx, "V-1", fmt.Sprintf("%06d", guess%1000000))
			f.clock.Add(time.Second)
			var wrong *WrongCodeError
			var locked *LockedOutError
			if errors.As(err, &wrong) || (errors.As(err, &locked) && locked.RetryAfter > 0 && v > 0 && valid() == 0) {
				checks++
				validSum += v
			}
			if err == nil {
				t.Fatalf("guess %d signed in", guess) // 1 chance in 200,000: run again
			}
			if !errors.As(err, &wrong) {
				if errors.As(err, &locked) {
					f.clock.Add(locked.RetryAfter)
				}
				break
			}
		}
	}
	t.Logf("a simulated day, best strategy against one voter: %d codes sent, %d guesses checked, sum of valid codes over them %d: odds at most %d in 10^6 = %.4f %% per voter per day",
		codesSent, checks, validSum, validSum, float64(validSum)/1e4)
	if checks > 135 || validSum > 135*maxCodesPerSignIn {
		t.Errorf("%d guesses checked, %d code-chances; want at most 135 and %d", checks, validSum, 135*maxCodesPerSignIn)
	}
}
