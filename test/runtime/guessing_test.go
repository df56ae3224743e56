package runtime

// Codes that can be guessed, and a voter told a code was sent when none was: the
// findings "Codes can be guessed" and the first of "Honest answers and outputs" of
// issue 14, against the real runtime binary.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// lockoutVoterState is what GET /control/v1/voters/{id} says of a voter.
type lockoutVoterState struct {
	VoterID          string `json:"voterId"`
	OnRoll           bool   `json:"onRoll"`
	Channel          string `json:"channel"`
	ChannelAvailable bool   `json:"channelAvailable"`
	Voted            bool   `json:"voted"`
	PendingSignIn    *struct {
		Codes     int    `json:"codes"`
		ExpiresAt string `json:"expiresAt"`
	} `json:"pendingSignIn"`
	Failures       int    `json:"failures"`
	MaxFailures    int    `json:"maxFailures"`
	Lockouts       int    `json:"lockouts"`
	Locked         bool   `json:"locked"`
	LockedUntil    string `json:"lockedUntil"`
	LastCodeSentAt string `json:"lastCodeSentAt"`
}

// lockoutReadVoter reads a voter's sign-in state from the control API; it returns the
// status and the raw body too.
func lockoutReadVoter(t *testing.T, rt *runtimetest.Instance, token, id string) (lockoutVoterState, int, string) {
	t.Helper()
	status, data := controlRaw(t, rt.OpsURL, token, http.MethodGet, "/control/v1/voters/"+url.PathEscape(id), nil)
	var st lockoutVoterState
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Fatalf("voter state %s: %v", data, err)
		}
	}
	return st, status, data
}

// lockoutAnswer is an answer of the sign-in API, with its Retry-After header.
type lockoutAnswer struct {
	Status            int
	Error             string `json:"error"`
	Message           string `json:"message"`
	AttemptsLeft      *int   `json:"attemptsLeft"`
	RetryAfterSeconds int    `json:"retryAfterSeconds"`
	LockedUntil       string `json:"lockedUntil"`
	RetryAfter        string
}

func lockoutPost(t *testing.T, base, path string, body any) lockoutAnswer {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(base+path, "application/json", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := lockoutAnswer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	_ = json.Unmarshal(raw, &a)
	return a
}

// lockoutMailedCode has voter i ask for a code (202) and returns the mail that
// brings it.
func lockoutMailedCode(t *testing.T, base string, smtp *sink.SMTPSink, i int) sink.Mail {
	t.Helper()
	if got := lockoutAskCode(t, base, i); got.Status != http.StatusAccepted {
		t.Fatalf("sign-in: %d %q", got.Status, got.Error)
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lockoutAskCode(t *testing.T, base string, i int) lockoutAnswer {
	t.Helper()
	return lockoutPost(t, base, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(i)})
}

func lockoutTryCode(t *testing.T, base string, i int, code string) lockoutAnswer {
	t.Helper()
	return lockoutPost(t, base, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(i), "code": code})
}

// lockoutWrongCode is a code that is not code.
func lockoutWrongCode(code string, n int) string {
	c, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (c+1+n)%1000000)
}

// lockedOut checks that a is a locked-out answer (429, Retry-After and
// retryAfterSeconds agreeing, about want from now, give or take slack), and returns
// the seconds.
func lockoutRefused(t *testing.T, what string, a lockoutAnswer, want, slack time.Duration) int {
	t.Helper()
	h, _ := strconv.Atoi(a.RetryAfter)
	if a.Status != http.StatusTooManyRequests || a.Error != "locked-out" || h != a.RetryAfterSeconds ||
		time.Duration(h)*time.Second > want+slack || time.Duration(h)*time.Second < want-slack || a.LockedUntil == "" {
		t.Fatalf("%s: %d %q (Retry-After %q, retryAfterSeconds %d, lockedUntil %q, %q); want 429 locked-out, about %s",
			what, a.Status, a.Error, a.RetryAfter, a.RetryAfterSeconds, a.LockedUntil, a.Message, want)
	}
	return h
}

// TestConcurrentWrongCodesAreEachCountedOnce: finding "counting is check-then-act:
// 8 concurrent wrong codes gave 4 evaluations, 2 HTTP 500s (while counting the
// attempt: not found) and 2 refusals". Eight wrong codes at once, split over two
// runtime processes on one PostgreSQL database: no 5xx, each of the first five
// counted once (4, 3, 2, 1 attempts left, then the lockout), none evaluated past
// the limit, and the voter is locked out in the store both processes share.
func TestConcurrentWrongCodesAreEachCountedOnce(t *testing.T) {
	pg := pgtest.ForTest(t)
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	args := []string{
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "postgres:" + pg.AdminDSN(), "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"),
	}
	a, b := runtimetest.Start(t, runtimeBin, nil, args...), runtimetest.Start(t, runtimeBin, nil, args...)
	if got := lockoutAskCode(t, a.URL, 1); got.Status != http.StatusAccepted {
		t.Fatalf("sign-in: %d %s", got.Status, got.Error)
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := sink.CodeIn(m.Body)

	answers := make([]lockoutAnswer, 8)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range answers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			ready.Done()
			<-start
			answers[i] = lockoutTryCode(t, base, 1, lockoutWrongCode(code, i))
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()

	left := map[int]int{}
	var locked int
	for _, ans := range answers {
		switch {
		case ans.Status == http.StatusUnauthorized && ans.Error == "wrong-code" && ans.AttemptsLeft != nil:
			left[*ans.AttemptsLeft]++
		case ans.Status == http.StatusTooManyRequests && ans.Error == "locked-out":
			locked++
		default:
			t.Errorf("a wrong code answered %d %q (%s); want 401 wrong-code or 429 locked-out", ans.Status, ans.Error, ans.Message)
		}
	}
	for n := 1; n <= 4; n++ {
		if left[n] != 1 {
			t.Errorf("%d answers said %d attempts left, want exactly 1 (each wrong code counted once): %v", left[n], n, left)
		}
	}
	if locked != 4 {
		t.Errorf("%d answers were locked-out, want 4 (the fifth wrong code starts the lockout, three more are refused unevaluated)", locked)
	}
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))
	st, status, body := lockoutReadVoter(t, b, token, runtimetest.VoterID(1))
	if status != http.StatusOK || !st.Locked || st.Lockouts != 1 || st.Failures != 0 || st.PendingSignIn != nil {
		t.Errorf("voter state after the lockout: %d %s; want locked, 1 lockout, no failures pending, no pending sign-in", status, body)
	}
	// The right code is not evaluated either while the voter is locked out.
	if got := lockoutTryCode(t, a.URL, 1, code); got.Status != http.StatusTooManyRequests || got.Error != "locked-out" {
		t.Errorf("the right code during the lockout: %d %q; want 429 locked-out", got.Status, got.Error)
	}
}

// TestWrongCodesLockTheVoterOutAcrossSignInsAndRestarts: finding "after
// maxCodeAttempts wrong codes the pending sign-in is deleted and the next sign-in is
// served at once with a new code (no cooldown); the only brake is in memory (it
// resets on restart)". After five wrong codes the voter is locked out for a minute,
// in the store: a new sign-in sends no code, a restart changes nothing, the resend
// cooldown (90 s here) outlasts the lockout, both are said with Retry-After and in
// the pages in both languages; once both have passed, the right code signs in and
// the escalation starts over.
func TestWrongCodesLockTheVoterOutAcrossSignInsAndRestarts(t *testing.T) {
	t.Parallel() // it waits out a real lockout and cooldown (90 s): the other waiting tests wait alongside
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	// ElectionYAML's extra lines go under spec: the cooldown is set on the method's line.
	election := runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), "  languages: [fr, en]\n")
	data, err := os.ReadFile(election)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(election, []byte(strings.Replace(string(data), "authentication: {method: EmailCode}",
		"authentication: {method: EmailCode, resendCooldown: 90s}", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election,
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"))

	asked := time.Now()
	m := lockoutMailedCode(t, rt.URL, smtp, 1)
	code := sink.CodeIn(m.Body)
	for n := range 4 {
		if got := lockoutTryCode(t, rt.URL, 1, lockoutWrongCode(code, n)); got.Status != http.StatusUnauthorized || got.AttemptsLeft == nil || *got.AttemptsLeft != 4-n {
			t.Fatalf("wrong code %d: %d %q, attempts left %v", n+1, got.Status, got.Error, got.AttemptsLeft)
		}
	}
	lockedAt := time.Now()
	lockoutRefused(t, "the fifth wrong code", lockoutTryCode(t, rt.URL, 1, lockoutWrongCode(code, 4)), time.Minute, 5*time.Second)

	// A new sign-in sends nothing and says when to come back.
	lockoutRefused(t, "a new sign-in during the lockout", lockoutAskCode(t, rt.URL, 1), time.Minute, 5*time.Second)
	for _, lang := range []struct{ lang, says string }{{"en", "try again"}, {"fr", "réessayer"}} {
		resp, err := http.PostForm(rt.URL+"/sign-in?lang="+lang.lang, url.Values{"voter_id": {runtimetest.VoterID(1)}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text := string(page)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(strings.ToLower(text), lang.says) || !regexp.MustCompile(`\b\d{1,2}(:| h )\d{2}\b`).MatchString(text) {
			t.Errorf("the %s sign-in page during the lockout: %d (Retry-After %q); want 429 saying %q and the time to come back:\n%s",
				lang.lang, resp.StatusCode, resp.Header.Get("Retry-After"), lang.says, text)
		}
	}
	// A restart forgets nothing: the lockout is in the store.
	rt.Kill9()
	rt.Restart()
	// What is left of the lockout is measured from its start, however long the
	// restart took.
	lockoutRefused(t, "the right code after a restart, during the lockout", lockoutTryCode(t, rt.URL, 1, code),
		time.Until(lockedAt.Add(time.Minute)), 5*time.Second)
	if n := len(smtp.Messages()); n != 1 {
		t.Fatalf("%d messages sent; during the lockout no new code may be sent", n)
	}

	// The lockout ends; the cooldown from the first code (90 s) has not.
	time.Sleep(time.Until(lockedAt.Add(time.Minute + 2*time.Second)))
	got := lockoutAskCode(t, rt.URL, 1)
	h, _ := strconv.Atoi(got.RetryAfter)
	wantWait := time.Until(asked.Add(90 * time.Second))
	if got.Status != http.StatusTooManyRequests || got.Error != "resend-too-soon" ||
		time.Duration(h)*time.Second > wantWait+5*time.Second || time.Duration(h)*time.Second < wantWait-5*time.Second {
		t.Fatalf("a sign-in after the lockout, within the cooldown: %d %q, Retry-After %q; want 429 resend-too-soon, about %s",
			got.Status, got.Error, got.RetryAfter, wantWait.Round(time.Second))
	}
	// The lockout ended the code: the voter is not told it still works.
	if strings.Contains(got.Message, "just sent") || !strings.Contains(got.Message, "no code you were sent works") {
		t.Errorf("a sign-in after the lockout, within the cooldown, says %q; want that no code works, and when to ask", got.Message)
	}
	// The code sent before the lockout no longer works.
	if got := lockoutTryCode(t, rt.URL, 1, code); got.Status != http.StatusGone {
		t.Errorf("the code sent before the lockout, after it: %d %q; want 410 (a new code is needed)", got.Status, got.Error)
	}

	time.Sleep(time.Until(asked.Add(90*time.Second + time.Second)))
	if got := lockoutAskCode(t, rt.URL, 1); got.Status != http.StatusAccepted {
		t.Fatalf("a sign-in after the lockout and the cooldown: %d %q", got.Status, got.Error)
	}
	var fresh string
	deadline := time.Now().Add(30 * time.Second)
	for fresh == "" && time.Now().Before(deadline) {
		if msgs := smtp.Messages(); len(msgs) == 2 {
			fresh = sink.CodeIn(msgs[1].Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := lockoutTryCode(t, rt.URL, 1, fresh); got.Status != http.StatusOK {
		t.Fatalf("the new code after the lockout: %d %q", got.Status, got.Error)
	}
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))
	if st, _, body := lockoutReadVoter(t, rt, token, runtimetest.VoterID(1)); st.Locked || st.Lockouts != 0 || st.Failures != 0 {
		t.Errorf("after a successful sign-in: %s; want the escalation reset", body)
	}
}

// TestHotlineSeesTheVoterSignInStateNeverACode: the hotline's view of a voter
// (GET /control/v1/voters/{id}, control token): on the roll, channel, voted, the
// pending sign-in, failures, the lockout and when the last code was sent; never a
// code or its hash; refused without the token.
func TestHotlineSeesTheVoterSignInStateNeverACode(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	// The hash key is the test's: it computes the code's keyed hash to look for it.
	keys := filepath.Join(dir, "keys")
	hashKey := make([]byte, 32)
	if _, err := rand.Read(hashKey); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "hash-key"), hashKey, 0o600); err != nil {
		t.Fatal(err)
	}
	hasher, err := auth.NewHasher(hashKey)
	if err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
		"--keys-dir", keys, "--control-token-file", filepath.Join(dir, "control-token"))
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))

	if _, status, _ := lockoutReadVoter(t, rt, "", runtimetest.VoterID(1)); status != http.StatusUnauthorized {
		t.Errorf("without the control token: %d, want 401", status)
	}
	if _, status, _ := lockoutReadVoter(t, rt, "not-the-token", runtimetest.VoterID(1)); status != http.StatusUnauthorized {
		t.Errorf("with another token: %d, want 401", status)
	}
	if _, status, body := lockoutReadVoter(t, rt, token, "V-9999"); status != http.StatusNotFound || !strings.Contains(body, "unknown-voter") {
		t.Errorf("a voter not on the roll: %d %s; want 404 unknown-voter", status, body)
	}
	st, status, body := lockoutReadVoter(t, rt, token, runtimetest.VoterID(2))
	if status != http.StatusOK || !st.OnRoll || st.Channel != "mail" || !st.ChannelAvailable || st.Voted ||
		st.PendingSignIn != nil || st.Locked || st.Failures != 0 || st.LastCodeSentAt != "" || st.MaxFailures != 5 {
		t.Errorf("a voter who did nothing: %d %s", status, body)
	}

	m := lockoutMailedCode(t, rt.URL, smtp, 1)
	code := sink.CodeIn(m.Body)
	var bodies strings.Builder
	for n := range 2 {
		lockoutTryCode(t, rt.URL, 1, lockoutWrongCode(code, n))
	}
	st, _, body = lockoutReadVoter(t, rt, token, runtimetest.VoterID(1))
	bodies.WriteString(body)
	if st.PendingSignIn == nil || st.PendingSignIn.Codes != 1 || st.Failures != 2 || st.Locked || st.LastCodeSentAt == "" {
		t.Errorf("after a code and two wrong ones: %s", body)
	}
	for n := 2; n < 5; n++ {
		lockoutTryCode(t, rt.URL, 1, lockoutWrongCode(code, n))
	}
	st, _, body = lockoutReadVoter(t, rt, token, runtimetest.VoterID(1))
	bodies.WriteString(body)
	until, err := time.Parse(time.RFC3339, st.LockedUntil)
	if !st.Locked || st.Lockouts != 1 || err != nil || until.Before(time.Now().Add(50*time.Second)) || until.After(time.Now().Add(70*time.Second)) {
		t.Errorf("after five wrong codes: %s; want locked for about a minute", body)
	}
	for _, enc := range encodings(code) {
		if sink.Contains(bodies.String(), enc) {
			t.Errorf("the voter state shows the code (%q…)", enc[:2])
		}
	}
	// Nor its keyed hash, as the store keeps it, in hex or base64.
	sum := hasher.Sum(auth.DomainCode, runtimetest.VoterID(1), code)
	for _, enc := range encodings(string(sum))[2:] {
		if sink.Contains(bodies.String(), enc) {
			t.Errorf("the voter state shows the code's hash (%q…)", enc[:4])
		}
	}
}

// TestNoCodeClaimedWhenTheDeliveryQueueIsFull: finding "when the delivery queue is
// full the voter gets 503, but five seconds later is told a code was just sent,
// new code in 55 s, though nothing was sent". With a queue of one message held by a
// slow SMS gateway, a second voter is told to wait (503), and asking again while
// the queue is full is told the same, never that a code is on its way; nothing is
// recorded for them; once the queue has room, their next request sends a code that
// works.
func TestNoCodeClaimedWhenTheDeliveryQueueIsFull(t *testing.T) {
	sms := sink.StartSMS(t, "gateway-token")
	// The gateway answers nothing until released: the queue stays full for as long
	// as the checks take, however slow the machine.
	release := sms.Hold()
	defer release()
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, []string{"SCRUTIN_SMS_TOKEN=gateway-token"},
		"--election", runtimetest.ElectionFile(t, dir, "SMSCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "e.db"),
		"--sms-gateway", sms.URL(), "--delivery-buffer=1", "--control-token-file", filepath.Join(dir, "control-token"))
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))

	if got := lockoutAskCode(t, rt.URL, 1); got.Status != http.StatusAccepted {
		t.Fatalf("the first voter's sign-in: %d %q", got.Status, got.Error)
	}
	// The queue holds one message, being sent to the slow gateway: it is full.
	for try := range 2 {
		got := lockoutAskCode(t, rt.URL, 2)
		if got.Status != http.StatusServiceUnavailable || got.Error != "busy" {
			t.Fatalf("the second voter's request %d while the queue is full: %d %q (%s); want 503 busy, never a code claimed",
				try+1, got.Status, got.Error, got.Message)
		}
	}
	// The pages: the sign-in form posted while the queue is full gets the wait
	// page (which re-submits nothing: the voter asks again), never the code page
	// nor "a code was sent".
	resp, err := http.PostForm(rt.URL+"/sign-in?lang=en", url.Values{"voter_id": {runtimetest.VoterID(2)}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(strings.ToLower(string(page)), "code was") ||
		strings.Contains(string(page), `id="code"`) {
		t.Errorf("the sign-in page while the queue is full: %d; want the wait page, no code page:\n%s", resp.StatusCode, page)
	}
	if st, _, body := lockoutReadVoter(t, rt, token, runtimetest.VoterID(2)); st.PendingSignIn != nil || st.LastCodeSentAt != "" {
		t.Errorf("the voter turned away has a code or a cooldown recorded: %s", body)
	}
	if n := len(sms.Accepted()); n != 0 {
		t.Fatalf("the held gateway accepted %d messages during the checks; the queue was not full throughout", n)
	}

	// Once the gateway has answered, the queue has room: a code goes out at once.
	release()
	if _, err := sms.WaitFor(runtimetest.VoterPhone(1), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	var got lockoutAnswer
	for time.Now().Before(deadline) {
		if got = lockoutAskCode(t, rt.URL, 2); got.Status != http.StatusServiceUnavailable {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got.Status != http.StatusAccepted {
		t.Fatalf("the second voter once the queue has room: %d %q (%s); want 202", got.Status, got.Error, got.Message)
	}
	m, err := sms.WaitFor(runtimetest.VoterPhone(2), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := lockoutTryCode(t, rt.URL, 2, sink.CodeIn(m.Text)); got.Status != http.StatusOK {
		t.Errorf("the code sent once the queue had room: %d %q", got.Status, got.Error)
	}
}
