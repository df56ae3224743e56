package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
)

// waitOf is how long an answer asks to wait before the next step, 0 for none.
func waitOf(err error) time.Duration {
	var resend *ResendTooSoonError
	var secs interface{ Seconds() int }
	switch {
	case errors.As(err, &resend):
		return resend.RetryAfter
	case errors.As(err, &secs):
		return time.Duration(secs.Seconds()) * time.Second
	}
	return 0
}

// TestGuessingIsBoundedPerVoterPerHour: finding "codes can be guessed: about 24,000
// guesses per voter per day". An attacker hammers one voter for a simulated day
// (the engine's clock), one request a second, asking for a new code whenever the
// answers allow and trying wrong codes otherwise, with the per-pod in-memory
// brake off (it multiplies with replicas and resets on restart): what the store
// enforces alone. It counts the codes actually checked (scrutin_signins_total
// wrong-code and too-many-attempts) in every sliding hour.
func TestGuessingIsBoundedPerVoterPerHour(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	f.clock.Add(time.Hour) // open
	en := twoDayEngine(t, f)
	checked := func() float64 {
		return testutil.ToFloat64(en.metrics.signIns.WithLabelValues("wrong-code")) +
			testutil.ToFloat64(en.metrics.signIns.WithLabelValues("too-many-attempts"))
	}
	start := f.clock.Now()
	var at []time.Time // when each checked code was checked
	guess := 0
	for f.clock.Now().Before(start.Add(24*time.Hour)) && len(at) < 5000 {
		_, err := en.StartSignIn(ctx, "V-1")
		f.clock.Add(time.Second)
		if w := waitOf(err); w > 0 {
			f.clock.Add(w)
			continue
		}
		if err != nil && !errors.Is(err, ErrDeliveryBusy) {
			t.Fatalf("asking for a code: %v", err)
		}
		for len(at) < 5000 {
			before := checked()
			guess++
			_, _, err := en.CompleteSignIn(ctx, "V-1", fmt.Sprintf("%06d", guess%1000000))
			if checked() > before {
				at = append(at, f.clock.Now())
			}
			f.clock.Add(time.Second)
			var wrong *WrongCodeError
			if err == nil || !errors.As(err, &wrong) {
				break
			}
		}
	}
	most, first := 0, 0
	for i := range at {
		for at[i].Sub(at[first]) >= time.Hour {
			first++
		}
		most = max(most, i-first+1)
	}
	lastHour := 0
	for _, a := range at {
		if !a.Before(start.Add(23 * time.Hour)) {
			lastHour++
		}
	}
	t.Logf("a simulated day of guessing on one voter: %d codes checked in 24 h, at most %d in any hour, %d in the last hour (%d guesses sent)",
		len(at), most, lastHour, guess)
	if most > 20 || len(at) > 20+23*5 || lastHour > 5 {
		t.Errorf("%d codes checked in a day, %d at most in an hour, %d in the last; want at most 20 in any hour, 5 an hour once the lockouts reach an hour (%d a day)",
			len(at), most, lastHour, 20+23*5)
	}
}

// TestLockoutIsNotResetByANewSignIn: after a lockout, a new sign-in sends no code
// until it ends, and the escalation goes on across pending sign-ins: 1, 5, 15, 60
// minutes; a right code after a lockout resets it.
func TestLockoutIsNotResetByANewSignIn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	f.clock.Add(time.Hour)
	for n, want := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, time.Hour} {
		if _, err := f.en.StartSignIn(ctx, "V-1"); err != nil {
			t.Fatalf("lockout %d: asking for a code: %v", n+1, err)
		}
		f.waitCode(t, "camille@example.org")
		var locked *LockedOutError
		for i := range 5 {
			f.clock.Add(3 * time.Second) // the in-memory brake's pace
			_, _, err := f.en.CompleteSignIn(ctx, "V-1", "not-a-code")
			if i < 4 && err == nil || i == 4 && (!errors.As(err, &locked) || locked.RetryAfter != want) {
				t.Fatalf("lockout %d, wrong code %d: %v; want a lockout of %s at the fifth", n+1, i+1, err, want)
			}
		}
		if _, err := f.en.StartSignIn(ctx, "V-1"); !errors.As(err, &locked) {
			t.Fatalf("a new sign-in during lockout %d: %v, want LockedOutError (no code sent)", n+1, err)
		}
		f.clock.Add(want)
	}
	code := f.codeFor(t, "V-1", "camille@example.org")
	if _, _, err := f.en.CompleteSignIn(ctx, "V-1", code); err != nil {
		t.Fatalf("the right code after the lockouts: %v", err)
	}
	if g, err := f.store.Guard(ctx, "V-1"); err != nil || g.Lockouts != 0 || g.Failures != 0 {
		t.Errorf("after a successful sign-in: %+v, %v; want the escalation reset", g, err)
	}
}

// TestNoCodeClaimedWhenTheQueueIsFull: finding "when the delivery queue is full the
// voter gets 503, but is then told a code was just sent": a voter turned away by a
// full queue is turned away again, never told a code is on its way, and nothing is
// recorded for them.
func TestNoCodeClaimedWhenTheQueueIsFull(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.SMSCode)
	f.sms.SetResponseDelay(3 * time.Second)
	// An outbox that holds one queued code at most, its worker held by the slow
	// gateway.
	full := enginetest.Outbox(t, f.store, enginetest.OutboxOptions{Now: f.clock.Now, Backlog: 1,
		SMS: delivery.NewSMS(delivery.SMSConfig{URL: f.sms.URL(), Token: "gateway-token", Timeout: 10 * time.Second})})
	en, err := New(Config{Election: f.en.e, Store: f.store, Hasher: f.en.hasher, Outbox: full, Now: f.clock.Now, Log: f.en.log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := en.StartSignIn(ctx, "V-1"); err != nil {
		t.Fatalf("the first voter: %v", err)
	}
	for i := range 3 {
		f.clock.Add(5 * time.Second)
		if _, err := en.StartSignIn(ctx, "V-2"); !errors.Is(err, ErrDeliveryBusy) {
			t.Fatalf("the second voter, request %d, the queue full: %v; want ErrDeliveryBusy", i+1, err)
		}
	}
	st, err := en.VoterState(ctx, "V-2")
	if err != nil || st.PendingSignIn != nil || st.LastCodeSentAt != nil {
		t.Errorf("the voter turned away: %+v, %v; want no code and no cooldown recorded", st, err)
	}
}

// twoDayEngine is the fixture's engine with a 48-hour voting window and no
// per-voter burst limit, for the tests that play a guesser over days.
func twoDayEngine(t *testing.T, f *fixture) *Engine {
	t.Helper()
	e := f.en.e.DeepCopy()
	e.Spec.Schedule.ClosesAt.Time = e.Spec.Schedule.OpensAt.Add(48 * time.Hour)
	en, err := New(Config{Election: e, Store: f.store, Hasher: f.en.hasher, Outbox: f.en.outbox, Now: f.clock.Now,
		VoterBurst: -1, Log: f.en.log})
	if err != nil {
		t.Fatal(err)
	}
	return en
}
