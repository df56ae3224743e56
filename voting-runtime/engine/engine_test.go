package engine

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// clock is the tests' settable time source.
type clock = enginetest.Clock

const testRoll = enginetest.Roll

type fixture struct {
	en    *Engine
	clock *clock
	smtp  *sink.SMTPSink
	sms   *sink.SMSSink
	logs  *bytes.Buffer
	store *countingStore
	reg   *prometheus.Registry
}

// countingStore counts the sign-in calls that reach the store, by voter id, and
// the voter reads among them.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	calls map[string]int
	reads map[string]int
}

func (c *countingStore) readsOf(voterID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[voterID]
}

func (c *countingStore) count(voterID string) {
	c.mu.Lock()
	c.calls[voterID]++
	c.mu.Unlock()
}

func (c *countingStore) callsFor(voterID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[voterID]
}

func (c *countingStore) Voter(ctx context.Context, id string) (store.Voter, error) {
	c.count(id)
	c.mu.Lock()
	c.reads[id]++
	c.mu.Unlock()
	return c.Store.Voter(ctx, id)
}

func (c *countingStore) SignIn(ctx context.Context, voterID string) (store.PendingSignIn, error) {
	c.count(voterID)
	return c.Store.SignIn(ctx, voterID)
}

func (c *countingStore) PutSignIn(ctx context.Context, p store.PendingSignIn) error {
	c.count(p.VoterID)
	return c.Store.PutSignIn(ctx, p)
}

func (c *countingStore) UpdateSignIn(ctx context.Context, voterID string, now time.Time, f func(*store.PendingSignIn) store.PendingSignIn) error {
	c.count(voterID)
	return c.Store.UpdateSignIn(ctx, voterID, now, f)
}

func (c *countingStore) AttemptSignIn(ctx context.Context, voterID string, now time.Time, p store.LockoutPolicy,
	check func(*store.PendingSignIn) store.Verdict, open *store.Session) (store.Attempt, error) {
	c.count(voterID)
	return c.Store.AttemptSignIn(ctx, voterID, now, p, check, open)
}

func (c *countingStore) SendCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration,
	update func(*store.PendingSignIn) store.PendingSignIn, msg store.OutboxMessage) (store.Guard, bool, int64, error) {
	c.count(voterID)
	return c.Store.SendCode(ctx, voterID, now, cooldown, update, msg)
}

// newFixture runs an election opening in one hour, with mail and SMS going to real
// sinks on 127.0.0.1.
func newFixture(t *testing.T, method scrutinv1.AuthMethod) *fixture {
	t.Helper()
	return newFixtureWith(t, method, nil)
}

// newFixtureWith is newFixture with the Election changed by edit first.
func newFixtureWith(t *testing.T, method scrutinv1.AuthMethod, edit func(e *scrutinv1.Election)) *fixture {
	t.Helper()
	ctx := context.Background()
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board"},
		Spec: scrutinv1.ElectionSpec{
			Title: "Board", Organization: "Association",
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(10 * time.Hour))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Chair?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}, AllowBlank: true},
				{ID: "motions", Prompt: "Rank", Kind: scrutinv1.Ranked, Options: []scrutinv1.Option{{ID: "m1", Label: "M1"}, {ID: "m2", Label: "M2"}, {ID: "m3", Label: "M3"}}},
			},
			Authentication: scrutinv1.Authentication{Method: method},
		},
	}
	if edit != nil {
		edit(e)
	}
	e.Default()
	st, h := enginetest.Store(t)
	var err error
	f := &fixture{clock: enginetest.NewClock(opens.Add(-time.Hour)), smtp: sink.StartSMTP(t), sms: sink.StartSMS(t, "gateway-token"), logs: &bytes.Buffer{},
		store: &countingStore{Store: st, calls: map[string]int{}, reads: map[string]int{}}, reg: prometheus.NewRegistry()}
	st.Clock = f.clock.Now // the ballot box follows the test's clock too
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	outbox := enginetest.Outbox(t, st, enginetest.OutboxOptions{Now: f.clock.Now,
		Mail: delivery.NewSMTP(delivery.SMTPConfig{Host: f.smtp.Host(), Port: f.smtp.Port(), From: "vote@example.org", TLS: "none", Timeout: 5 * time.Second}),
		SMS:  delivery.NewSMS(delivery.SMSConfig{URL: f.sms.URL(), Token: "gateway-token", Timeout: 5 * time.Second})})
	f.en, err = New(Config{Election: e, Store: f.store, Hasher: h, Outbox: outbox, Now: f.clock.Now, Log: log, Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.en.ImportRoll(ctx, strings.NewReader(testRoll)); err != nil {
		t.Fatal(err)
	}
	return f
}

// codeFor asks for a code and reads it from the sink it was sent to.
func (f *fixture) codeFor(t *testing.T, voterID, to string) string {
	t.Helper()
	if _, err := f.en.StartSignIn(context.Background(), voterID); err != nil {
		t.Fatalf("StartSignIn(%s): %v", voterID, err)
	}
	return f.waitCode(t, to)
}

func (f *fixture) waitCode(t *testing.T, to string) string {
	t.Helper()
	if strings.HasPrefix(to, "+") {
		m, err := f.sms.WaitFor(to, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return sink.CodeIn(m.Text)
	}
	m, err := f.smtp.WaitFor(to, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return sink.CodeIn(m.Body)
}

func TestSignInWithEmailCodeAndVote(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	start, err := f.en.StartSignIn(ctx, "V-1")
	if err != nil {
		t.Fatal(err)
	}
	if start.Channel != "mail" || start.Destination != "c•••@example.org" || start.CodeValidity != 10*time.Minute {
		t.Errorf("start: %+v", start)
	}
	code := f.waitCode(t, "camille@example.org")
	if _, _, err := f.en.CompleteSignIn(ctx, "V-1", "000000"); !isWrongCode(err) && code != "000000" {
		t.Errorf("a wrong code: %v", err)
	}
	id, sess, err := f.en.CompleteSignIn(ctx, "V-1", code)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.en.CompleteSignIn(ctx, "V-1", code); !errors.Is(err, ErrNoPendingSignIn) {
		t.Errorf("a code works once: %v", err)
	}
	answers := ballot.Answers{"chair": {"alice"}, "motions": {"m2", "m1"}}
	var notOpen *NotOpenYetError
	if _, err := f.en.Cast(ctx, sess.VoterID, answers); !errors.As(err, &notOpen) {
		t.Fatalf("a ballot before opensAt: %v", err)
	}
	f.clock.Add(time.Hour) // open; the session, idle for an hour, has ended
	if _, err := f.en.Session(ctx, id); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("a session idle for an hour: %v", err)
	}
	code = f.codeFor(t, "V-1", "camille@example.org")
	if _, sess, err = f.en.CompleteSignIn(ctx, "V-1", code); err != nil {
		t.Fatal(err)
	}
	tracker, err := f.en.Cast(ctx, sess.VoterID, answers)
	if err != nil || len(tracker) != 64 {
		t.Fatalf("cast: tracker %q, %v", tracker, err)
	}
	if voted, _ := f.en.HasVoted(ctx, "V-1"); !voted {
		t.Error("V-1 is not marked as having voted")
	}
}

func isWrongCode(err error) bool {
	var w *WrongCodeError
	return errors.As(err, &w)
}

// TestSlowCodeStillWorks: the code arrives late and the voter asks again meanwhile;
// both codes work until their own expiry, and the pending sign-in outlives them.
func TestSlowCodeStillWorks(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.SMSCode)
	first := f.codeFor(t, "V-2", "+33698765432")
	f.clock.Add(30 * time.Second)
	var tooSoon *ResendTooSoonError
	if _, err := f.en.StartSignIn(ctx, "V-2"); !errors.As(err, &tooSoon) || tooSoon.RetryAfter != 30*time.Second {
		t.Fatalf("a resend within the cooldown: %v", err)
	}
	f.clock.Add(31 * time.Second)
	second := f.codeFor(t, "V-2", "+33698765432")
	if first == second {
		t.Skip("two equal random codes (one in a million); nothing to check")
	}
	f.clock.Add(8 * time.Minute) // the first code, sent 9 minutes ago, is still valid
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", first); err != nil {
		t.Fatalf("the first code, 9 minutes after it was sent, after a resend: %v", err)
	}
}

func TestCodeExpiresAndAttemptsAreLimited(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	code := f.codeFor(t, "V-3", "amina@example.org")
	f.clock.Add(10*time.Minute + time.Second)
	if _, _, err := f.en.CompleteSignIn(ctx, "V-3", code); err == nil {
		t.Fatal("an expired code was accepted")
	}
	f.clock.Add(5 * time.Minute)
	code = f.codeFor(t, "V-3", "amina@example.org")
	wrong := "111111"
	if code == wrong {
		wrong = "222222"
	}
	for i := 1; i < 5; i++ {
		var w *WrongCodeError
		if _, _, err := f.en.CompleteSignIn(ctx, "V-3", wrong); !errors.As(err, &w) || w.AttemptsLeft != 5-i {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	var locked *LockedOutError
	if _, _, err := f.en.CompleteSignIn(ctx, "V-3", wrong); !errors.As(err, &locked) || locked.RetryAfter != time.Minute {
		t.Fatalf("fifth wrong code: %v, want a lockout of a minute", err)
	}
	if _, _, err := f.en.CompleteSignIn(ctx, "V-3", code); !errors.As(err, &locked) {
		t.Fatalf("the right code during the lockout: %v, want LockedOutError", err)
	}
}

func TestSessionIdleTimeoutAndExtension(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	code := f.codeFor(t, "V-1", "camille@example.org")
	id, sess, err := f.en.CompleteSignIn(ctx, "V-1", code)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.en.SessionExpiry(sess).Sub(f.clock.Now()); got != 20*time.Minute {
		t.Errorf("a new session lasts %s, want the 20m idle timeout", got)
	}
	f.clock.Add(19 * time.Minute)
	if _, err := f.en.ExtendSession(ctx, id); err != nil {
		t.Fatalf("extending at 19 minutes: %v", err)
	}
	f.clock.Add(19 * time.Minute)
	if _, err := f.en.Session(ctx, id); err != nil {
		t.Fatalf("19 minutes after the extension: %v", err)
	}
	f.clock.Add(21 * time.Minute)
	if _, err := f.en.Session(ctx, id); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("21 idle minutes: %v", err)
	}
}

func TestOneBallotAndTheCount(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	f.clock.Add(time.Hour) // open
	casts := map[string]ballot.Answers{
		"V-1": {"chair": {"alice"}, "motions": {"m1", "m2", "m3"}},
		"V-2": {"chair": {"bob"}, "motions": {"m2", "m1"}}, // weight 2
		"V-3": {"chair": {}, "motions": {"m1"}},            // blank for chair
	}
	trackers := map[string]string{}
	for voter, a := range casts {
		tr, err := f.en.Cast(ctx, voter, a)
		if err != nil {
			t.Fatalf("%s: %v", voter, err)
		}
		trackers[voter] = tr
	}
	if _, err := f.en.Cast(ctx, "V-1", casts["V-2"]); !errors.Is(err, ErrAlreadyVoted) {
		t.Fatalf("a second ballot: %v", err)
	}
	if _, err := f.en.Cast(ctx, "V-1", ballot.Answers{"chair": {"carol"}}); err == nil {
		t.Fatal("an invalid ballot was accepted")
	}
	if _, err := f.en.Board(ctx); !errors.Is(err, ErrNotClosed) {
		t.Fatalf("the board before the close: %v", err)
	}
	if err := f.en.Close(ctx); !errors.Is(err, ErrNotClosed) {
		t.Fatalf("closing before closesAt: %v", err)
	}
	f.clock.Add(10 * time.Hour)
	if _, err := f.en.Cast(ctx, "V-3", casts["V-3"]); !errors.Is(err, ErrVoteClosed) {
		t.Fatalf("a ballot after closesAt: %v", err)
	}
	if err := f.en.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.en.Close(ctx); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	board, err := f.en.Board(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for voter, tr := range trackers {
		found := false
		for _, b := range board {
			found = found || b == tr
		}
		if !found {
			t.Errorf("%s's tracker is not on the board", voter)
		}
	}
	results, err := f.en.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chair := results[0]
	if chair.Options[0].Votes != 1 || chair.Options[1].Votes != 2 || chair.Blank != 1 || chair.Winners[0] != "bob" {
		t.Errorf("chair: %+v (weights: V-2 counts 2)", chair)
	}
	log, err := f.en.st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := f.en.st.AuditHead(ctx)
	if err := audit.Verify(log, head); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range log {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, ","); got != "roll-imported,ballot,ballot,ballot,closed,tallied" {
		t.Errorf("audit log: %s", got)
	}
}

func TestCredentialSignIn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.Credential)
	letter, err := f.smtp.WaitFor("jean@example.org", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	credential := sink.CredentialIn(letter.Body)
	if credential == "" {
		t.Fatalf("no credential in the letter:\n%s", letter.Body)
	}
	if _, _, err := f.en.CompleteSignIn(ctx, "V-1", credential); err == nil {
		t.Fatal("V-2's credential signed V-1 in")
	}
	typed := strings.ToLower(strings.ReplaceAll(credential, "-", " "))
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", typed); err != nil {
		t.Fatalf("the credential as typed by a person: %v", err)
	}
	if strings.Contains(f.logs.String(), credential) {
		t.Error("the credential is in the logs")
	}
}

// TestFloodOnOneVoter: past its burst of 10, a voter's sign-in steps are refused
// with the wait before the next, without a single store call, while another voter
// signs in at the same time; a step comes back every 3 s.
func TestFloodOnOneVoter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	for i := range 10 {
		if _, _, err := f.en.CompleteSignIn(ctx, "V-1", "000000"); !errors.Is(err, ErrNoPendingSignIn) {
			t.Fatalf("step %d of the burst: %v, want it to reach the store (no code asked for)", i+1, err)
		}
	}
	before := f.store.callsFor("V-1")

	var wg sync.WaitGroup
	refused := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = f.en.StartSignIn(ctx, "V-1")
			} else {
				_, _, err = f.en.CompleteSignIn(ctx, "V-1", "123456")
			}
			refused <- err
		})
	}
	code := f.codeFor(t, "V-2", "jean@example.org")
	if _, _, err := f.en.CompleteSignIn(ctx, "V-2", code); err != nil {
		t.Fatalf("another voter during the flood: %v", err)
	}
	wg.Wait()
	close(refused)
	for err := range refused {
		var limited *RateLimitedError
		if !errors.As(err, &limited) || limited.RetryAfter <= 0 || limited.RetryAfter > 3*time.Second || limited.Seconds() != 3 {
			t.Fatalf("a step past the burst: %v, want RateLimitedError within 3 s", err)
		}
	}
	if got := f.store.callsFor("V-1"); got != before {
		t.Errorf("the refused steps made %d store calls, want none", got-before)
	}
	if got := testutil.ToFloat64(f.en.metrics.limited); got != 200 {
		t.Errorf("scrutin_rate_limited_total{by=voter} = %v, want 200", got)
	}
	if n, err := testutil.GatherAndCount(f.reg, "scrutin_rate_limited_total"); err != nil || n != 1 {
		t.Errorf("the counter is not registered: %d series, %v", n, err)
	}

	f.clock.Add(3 * time.Second)
	if _, err := f.en.StartSignIn(ctx, "V-1"); err != nil {
		t.Fatalf("3 s later, one step: %v", err)
	}
	var limited *RateLimitedError
	if _, err := f.en.StartSignIn(ctx, "V-1"); !errors.As(err, &limited) {
		t.Fatalf("3 s later, a second step: %v, want RateLimitedError", err)
	}
	// (The delivery queue's own lines name the voter of each delivery; the
	// engine's never do.)
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(line, "V-1") && !strings.Contains(line, `"msg":"delivery `) {
			t.Errorf("the voter id is in the engine's logs: %s", line)
		}
	}
}

// TestVoterLimitOptions: the burst and period are the engine's options; an id
// longer than any on the roll never reaches the store.
func TestVoterLimitOptions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, scrutinv1.EmailCode)
	en, err := New(Config{Election: f.en.e, Store: f.store, Hasher: f.en.hasher, Now: f.clock.Now, VoterBurst: 2, VoterEvery: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var limited *RateLimitedError
	for i := range 3 {
		_, _, err := en.CompleteSignIn(ctx, "V-3", "000000")
		if i < 2 && !errors.Is(err, ErrNoPendingSignIn) || i == 2 && (!errors.As(err, &limited) || limited.Seconds() != 60) {
			t.Fatalf("step %d with a burst of 2, one a minute: %v", i+1, err)
		}
	}
	long := strings.Repeat("x", 129)
	if _, err := en.StartSignIn(ctx, long); !errors.Is(err, ErrUnknownVoter) || f.store.callsFor(long) != 0 {
		t.Fatalf("a 129-character id: %v, %d store calls", err, f.store.callsFor(long))
	}
	unlimited, err := New(Config{Election: f.en.e, Store: f.store, Hasher: f.en.hasher, Now: f.clock.Now, VoterBurst: -1})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, _, err := unlimited.CompleteSignIn(ctx, "V-3", "000000"); !errors.Is(err, ErrNoPendingSignIn) {
			t.Fatalf("without a limit: %v", err)
		}
	}
}
