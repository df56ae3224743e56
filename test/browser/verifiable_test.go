package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// recorded is one request the browser sent, as the recording proxy saw it.
type recorded struct {
	At     time.Time
	Method string
	URI    string
	Body   []byte
}

// recorder is a reverse proxy in front of the runtime that keeps every request.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
	// busyOnce: the next ballot is answered 503, as an overloaded runtime
	// does, without reaching the runtime.
	busyOnce bool
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{At: time.Now(), Method: r.Method, URI: r.URL.RequestURI(), Body: body})
		busy := rec.busyOnce && r.Method == http.MethodPost && r.URL.Path == "/api/v1/ballot"
		if busy {
			rec.busyOnce = false
		}
		rec.mu.Unlock()
		if busy {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"busy","message":"many people are voting right now","retryAfterSeconds":2}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// since is every request from the n-th on.
func (rec *recorder) since(n int) []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs[n:]...)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// letterCredentialOf is the Belenios credential in the letter to voter i.
func letterCredentialOf(t *testing.T, smtp *sink.SMTPSink, i int) string {
	t.Helper()
	m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(m.Body) {
		f = strings.Trim(f, ".,;:()")
		if len(f) == 19 && belenios.CheckCredential(f) == nil {
			return f
		}
	}
	t.Fatalf("no Belenios credential in voter %d's letter", i)
	return ""
}

// focusedID is the id of the element that has the focus.
func focusedID(t *testing.T, ctx context.Context) string {
	t.Helper()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+"`"+sel+"`"+`) || {}).textContent || ""`))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(s)
}

// waitLong waits up to two minutes for sel to be visible (the encryption,
// with the CPU throttled).
func waitLong(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(step, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("%s: %v (cast error: %q)", what, err, textOf(t, ctx, "#vb-cast-error"))
	}
}

// choiceRe finds a choice id or label of the test election standing alone (not
// inside a base64 or decimal string of the ballot).
var choiceRe = regexp.MustCompile(`(^|[^A-Za-z0-9+/])(alice|bob|carla|dan|eve|Alice|Bob|Carla|Dan|Eve)($|[^A-Za-z0-9+/])`)

// TestVerifiableVoteInTheBrowser: in Chromium, against the runtime behind a
// recording proxy, a French voter votes with the keyboard alone (the code from
// the mail sink, the credential from the letter); an English voter first types
// a mistyped credential, then another voter's (each told in plain words, while
// the browser sends nothing but GETs), then their own, and votes. No request
// the browser sent holds a choice (id or label) or a credential; exactly the
// two ballots were sent, as {"belenios": …}; the trackers shown are the
// ballots' and are on the downloaded board. After the close, belenios-tool
// verifies the board and the result counts both votes. axe-core checks each
// step in both languages.
func TestVerifiableVoteInTheBrowser(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	token := "control-token-of-the-browser-tests"
	keysDir := mkdir(t, dir, "keys")
	writeText(t, filepath.Join(keysDir, "control-token"), token)
	election := filepath.Join(dir, "election.yaml")
	now := time.Now()
	writeText(t, election, runtimetest.VerifiableElectionYAML("{method: EmailCode}", "{smtp: {secretRef: {name: smtp}}}",
		now.Add(-time.Minute), now.Add(time.Hour), ""))
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election,
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
		"--smtp", smtp.Addr(), "--keys-dir", keysDir)
	rec := newRecorder(t, rt.URL)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range rec.since(0) {
				t.Logf("sent: %s %s (%d bytes)", r.Method, r.URI, len(r.Body))
			}
		}
	})
	base := rec.srv.URL
	creds := map[int]string{}
	for i := 1; i <= 3; i++ {
		creds[i] = letterCredentialOf(t, smtp, i)
	}

	type vote struct {
		lang, tracker string
		elapsed       time.Duration
	}
	var votes []vote
	for i, lang := range []string{"fr", "en"} {
		voter := i + 1
		ctx := browser.Start(t)
		if err := chromedp.Do(ctx, acceptLanguage(lang)); err != nil {
			t.Fatal(err)
		}
		c := &checker{t: t, ctx: ctx, lang: lang}
		// Sign in with the keyboard: the voter id, then Enter on the button (Enter
		// in the field would press the form's first button, the language
		// switch's), the code, then Enter on the button.
		do(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#voter_id")))
		do(t, ctx, "type the voter id", chromedp.SendKeys(chromedp.CSS("#voter_id"), runtimetest.VoterID(voter)),
			chromedp.SendKeys(chromedp.CSS("#signin-submit"), kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#code")))
		mail, err := smtp.WaitFor(runtimetest.VoterEmail(voter), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "type the code", chromedp.SendKeys(chromedp.CSS("#code"), sink.CodeIn(mail.Body)),
			chromedp.SendKeys(chromedp.CSS("#code-submit"), kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#vb-credential")))
		if visible(t, ctx, "#vb-nojs") {
			t.Fatal("the no-JavaScript notice shows in Chromium")
		}
		c.page("vb-credential")

		start := rec.count()
		if lang == "en" {
			own := creds[voter]
			last := strings.IndexByte("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", own[len(own)-1])
			typo := own[:len(own)-1] + string("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"[(last+1)%58])
			do(t, ctx, "type a mistyped credential", chromedp.SendKeys(chromedp.CSS("#vb-credential"), typo+kb.Enter),
				chromedp.WaitVisible(chromedp.CSS("#vb-credential-error")))
			if msg := textOf(t, ctx, "#vb-credential-error-text"); !strings.Contains(msg, "typing mistake") {
				t.Errorf("a mistyped credential is told %q", msg)
			}
			c.page("vb-credential-typo")
			do(t, ctx, "type another voter's credential", clearCredential(),
				chromedp.SendKeys(chromedp.CSS("#vb-credential"), creds[3]+kb.Enter))
			pollCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := chromedp.Run(pollCtx, chromedp.Poll[bool](`document.querySelector("#vb-credential-error-text").textContent.includes("not yours")`))
			cancel()
			if err != nil {
				t.Fatalf("another voter's credential is not told: %v (%q)", err, textOf(t, ctx, "#vb-credential-error-text"))
			}
			if msg := textOf(t, ctx, "#vb-credential-error-text"); !strings.Contains(msg, "not yours") || !strings.Contains(msg, runtimetest.VoterID(voter)) {
				t.Errorf("another voter's credential is told %q", msg)
			}
			if visible(t, ctx, "#vb-step-choices") {
				t.Error("the choices show after another voter's credential")
			}
			time.Sleep(200 * time.Millisecond)
			if live := textOf(t, ctx, "#vb-live"); !strings.Contains(live, "not yours") {
				t.Errorf("the live region says %q after another voter's credential", live)
			}
			for _, r := range rec.since(start) {
				if r.Method != http.MethodGet {
					t.Errorf("while checking credentials the browser sent %s %s", r.Method, r.URI)
				}
			}
			do(t, ctx, "clear the credential", clearCredential())
		}
		do(t, ctx, "type the credential, then Enter", chromedp.SendKeys(chromedp.CSS("#vb-credential"), creds[voter]+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#vb-step-choices")))
		if id := focusedID(t, ctx); id != "vb-h-choices" {
			t.Errorf("after the credential the focus is on %q, want the choices' heading", id)
		}
		for _, r := range rec.since(start) {
			if r.Method != http.MethodGet {
				t.Errorf("checking the credential sent %s %s", r.Method, r.URI)
			}
		}
		c.page("vb-choices")
		// Out of bounds first: nothing chosen, then the error summary.
		do(t, ctx, "review with nothing chosen", chromedp.SendKeys(chromedp.CSS("#vb-to-review"), kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#vb-choices-summary")))
		if id := focusedID(t, ctx); id != "vb-choices-summary" {
			t.Errorf("the error summary does not have the focus (%q)", id)
		}
		c.page("vb-choices-errors")
		picks := []string{"#q_chair_alice", "#q_council_carla", "#q_council_dan"}
		if lang == "en" {
			picks = []string{"#q_chair_bob", "#q_council_eve"}
		}
		for _, p := range picks {
			do(t, ctx, "choose "+p+" with the space bar", chromedp.SendKeys(chromedp.CSS(p), " "))
		}
		do(t, ctx, "review", chromedp.SendKeys(chromedp.CSS("#vb-to-review"), kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#vb-step-review")))
		if id := focusedID(t, ctx); id != "vb-h-review" {
			t.Errorf("the review's heading does not have the focus (%q)", id)
		}
		review := textOf(t, ctx, "#vb-review-list")
		wantReview := []string{"Alice", "Carla", "Dan"}
		if lang == "en" {
			wantReview = []string{"Bob", "Eve"}
		}
		for _, w := range wantReview {
			if !strings.Contains(review, w) {
				t.Errorf("the review does not show %s:\n%s", w, review)
			}
		}
		c.page("vb-review")
		if lang == "en" {
			throttle(t, ctx, 4)
		}
		before := rec.count()
		cast := time.Now()
		if lang == "en" {
			// the runtime is overloaded at the first try: the voter is told to
			// wait, then tries again
			rec.mu.Lock()
			rec.busyOnce = true
			rec.mu.Unlock()
			do(t, ctx, "encrypt and cast", chromedp.SendKeys(chromedp.CSS("#vb-cast"), kb.Enter))
			waitLong(t, ctx, "the busy message", "#vb-cast-error")
			if msg := textOf(t, ctx, "#vb-cast-error-text"); !strings.Contains(msg, "not recorded yet. Try again in 2 seconds") {
				t.Errorf("an overloaded runtime is told %q", msg)
			}
			if id := focusedID(t, ctx); id != "vb-cast-error" {
				t.Errorf("the cast's error does not have the focus (%q)", id)
			}
			c.page("vb-cast-busy")
			do(t, ctx, "try again", chromedp.SendKeys(chromedp.CSS("#vb-retry"), kb.Enter))
		} else {
			do(t, ctx, "encrypt and cast", chromedp.SendKeys(chromedp.CSS("#vb-cast"), kb.Enter))
		}
		waitLong(t, ctx, "the receipt", "#vb-step-receipt")
		var sentAt time.Time
		for _, r := range rec.since(before) {
			if r.Method == http.MethodPost && r.URI == "/api/v1/ballot" && sentAt.IsZero() {
				sentAt = r.At
			}
		}
		if lang == "en" {
			throttle(t, ctx, 1)
		}
		if id := focusedID(t, ctx); id != "vb-h-receipt" {
			t.Errorf("the receipt's heading does not have the focus (%q)", id)
		}
		time.Sleep(200 * time.Millisecond)
		if live := textOf(t, ctx, "#vb-live"); live != map[string]string{"fr": "Votre vote est enregistré.", "en": "Your vote is recorded."}[lang] {
			t.Errorf("the live region says %q after the cast", live)
		}
		c.page("vb-receipt")
		votes = append(votes, vote{lang: lang, tracker: textOf(t, ctx, "#vb-tracker"), elapsed: sentAt.Sub(cast)})

		// The ballot page again, with JavaScript off: the notice says how else to
		// vote, and that a new ballot would replace this one.
		noScript(t, ctx, true)
		do(t, ctx, "the ballot page without JavaScript", chromedp.Navigate(base+"/ballot"), chromedp.WaitVisible(chromedp.CSS("#vb-nojs")))
		if visible(t, ctx, "#vb-app") {
			t.Error("without JavaScript the steps show")
		}
		nojs := textOf(t, ctx, "#main")
		for _, w := range map[string][]string{
			"fr": {"Cette page ne peut pas chiffrer", "kubectl scrutin vote --url " + base + " --voter-id " + runtimetest.VoterID(voter), "Vous avez déjà voté"},
			"en": {"This page cannot encrypt", "kubectl scrutin vote --url " + base + " --voter-id " + runtimetest.VoterID(voter), "You have already voted"},
		}[lang] {
			if !strings.Contains(nojs, w) {
				t.Errorf("without JavaScript the ballot page does not say %q:\n%s", w, nojs)
			}
		}
		// axe-core runs once scripts are on again; the page, loaded without
		// them, stays as it was
		noScript(t, ctx, false)
		c.page("vb-nojs")
		if !visible(t, ctx, "#vb-nojs") {
			t.Error("the no-JavaScript notice went away")
		}
	}
	for _, v := range votes {
		throttle := "CPU as is"
		if v.lang == "en" {
			throttle = "CPU throttled ×4"
		}
		t.Logf("%s voter: from the cast button to the ballot ready and sent: %v (%s)", v.lang, v.elapsed.Round(time.Millisecond), throttle)
	}

	// What the browser sent.
	var ballots [][]byte
	for _, r := range rec.since(0) {
		text := r.URI + "\n" + string(r.Body)
		if m := choiceRe.FindString(text); m != "" {
			t.Errorf("%s %s holds a choice (%q):\n%.300s", r.Method, r.URI, m, r.Body)
		}
		for i, cred := range creds {
			for _, form := range []string{cred, url.QueryEscape(cred), strings.ReplaceAll(cred, "-", "")} {
				if strings.Contains(text, form) {
					t.Errorf("%s %s holds voter %d's credential", r.Method, r.URI, i)
				}
			}
		}
		if r.Method == http.MethodPost && r.URI == "/api/v1/ballot" {
			var body map[string]json.RawMessage
			var ballot string
			if err := json.Unmarshal(r.Body, &body); err != nil || len(body) != 1 || json.Unmarshal(body["belenios"], &ballot) != nil {
				t.Errorf("a ballot was sent as %.200s, want {\"belenios\": \"…\"}", r.Body)
				continue
			}
			if len(ballots) == 0 || string(ballots[len(ballots)-1]) != ballot {
				ballots = append(ballots, []byte(ballot)) // a retry sends the same ballot again
			}
		} else if bytes.Contains(r.Body, []byte("belenios")) {
			t.Errorf("%s %s carries a ballot", r.Method, r.URI)
		}
	}
	if len(ballots) != 2 {
		t.Fatalf("%d ballots were sent; want 2 (the English voter's twice, once refused as busy)", len(ballots))
	}
	res, err := http.Get(base + "/api/v1/board.bel")
	if err != nil {
		t.Fatal(err)
	}
	board, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for i, v := range votes {
		if belenios.Tracker(ballots[i]) != v.tracker {
			t.Errorf("the %s voter was shown tracker %q; their ballot's is %s", v.lang, v.tracker, belenios.Tracker(ballots[i]))
		}
		if !bytes.Contains(board, ballots[i]) {
			t.Errorf("the %s voter's ballot is not on the downloaded board", v.lang)
		}
	}

	// The board and check pages, in both languages.
	for _, lang := range []string{"fr", "en"} {
		ctx := browser.Start(t)
		if err := chromedp.Do(ctx, acceptLanguage(lang)); err != nil {
			t.Fatal(err)
		}
		c := &checker{t: t, ctx: ctx, lang: lang}
		do(t, ctx, "search the board", chromedp.Navigate(base+"/board"),
			chromedp.SendKeys(chromedp.CSS("#tracker-query"), votes[0].tracker+kb.Enter),
			chromedp.WaitVisible(chromedp.CSS("#find-number")))
		if n := textOf(t, ctx, "#find-number"); !strings.Contains(n, "1") {
			t.Errorf("the board says %q of the first ballot", n)
		}
		c.page("vb-board")
		do(t, ctx, "the check page", chromedp.Navigate(base+"/board/check"), chromedp.WaitVisible(chromedp.CSS("#cmd-verify")))
		c.page("vb-board-check")
	}

	// After the close: belenios-tool verifies the board, the result counts both.
	closeVerifiable(t, rt.OpsURL, token)
	results := waitVerifiableResults(t, rt.OpsURL, token)
	if results["chair"]["alice"] != 1 || results["chair"]["bob"] != 1 || results["council"]["carla"] != 1 ||
		results["council"]["dan"] != 1 || results["council"]["eve"] != 1 {
		t.Errorf("results %v; want alice 1, bob 1, carla 1, dan 1, eve 1", results)
	}
	res, err = http.Get(base + "/api/v1/board.bel")
	if err != nil {
		t.Fatal(err)
	}
	board, _ = io.ReadAll(res.Body)
	res.Body.Close()
	vdir := t.TempDir()
	writeText(t, filepath.Join(vdir, "board.bel"), string(board))
	cmd := exec.Command("belenios-tool", "election", "verify", "--dir", vdir)
	cmd.Env = append(os.Environ(), "BELENIOS_USE_URANDOM=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "I: all checks passed") {
		t.Errorf("belenios-tool election verify: %v\n%s", err, out)
	}
}

// clearCredential empties the credential's field, as the voter selecting
// what they typed and deleting it.
func clearCredential() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(() => { document.querySelector("#vb-credential").value = ""; return true; })()`)(ctx, t)
		return err
	})
}

// noScript turns the page's scripts off (or on again).
func noScript(t *testing.T, ctx context.Context, off bool) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: off})
		return err
	})); err != nil {
		t.Fatal(err)
	}
}

// throttle slows the browser's CPU down by rate (1: as is).
func throttle(t *testing.T, ctx context.Context, rate float64) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: rate})
		return err
	})); err != nil {
		t.Fatal(err)
	}
}

// control calls the runtime's control API with the bearer token.
func control(t *testing.T, ops, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, ops+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

// closeVerifiable moves the close to now and closes the vote, as the
// controller does.
func closeVerifiable(t *testing.T, ops, token string) {
	t.Helper()
	now := time.Now().UTC()
	sc := map[string]any{"opensAt": now.Add(-time.Hour), "closesAt": now, "version": 2}
	if status, body := control(t, ops, token, http.MethodPost, "/control/v1/schedule", sc); status != http.StatusOK {
		t.Fatalf("schedule: %d %s", status, body)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := control(t, ops, token, http.MethodPost, "/control/v1/close", nil)
		if status == http.StatusNoContent {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("close: %d %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitVerifiableResults waits for the results: question -> option -> votes.
func waitVerifiableResults(t *testing.T, ops, token string) map[string]map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, body := control(t, ops, token, http.MethodGet, "/control/v1/results", nil)
		if status == http.StatusOK {
			out, err := runtimetest.ResultCounts(body)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("no results after the close (HTTP %d): %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
