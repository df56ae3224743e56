package browser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// do runs browser steps (browser.Do), with screenshots under the repository.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browser.Do(t, ctx, root, what, actions...)
}

func visible(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`); return !!e && !e.hidden && e.offsetParent !== null; })()`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signInWithMail signs voter i in through the pages, reading the code from smtp.
func signInWithMail(t *testing.T, ctx context.Context, base string, smtp *sink.SMTPSink, i int, wait string) {
	t.Helper()
	do(t, ctx, "open the sign-in page", chromedp.Navigate(base+"/sign-in"))
	signInWithMailFromHere(t, ctx, smtp, i, wait)
}

// TestSessionWarningExpiryAndRecovery: the warning comes well before the end, never
// right after sign-in; one click extends the session; when the session ends in the
// middle of the ballot, signing in again brings the voter back to their choices
// (kept in the window: nothing is sealed without a live session).
//
// The Election file compresses time (40-second sessions, which the API server would
// refuse: it asks for at least 5 minutes); the runtime runs whatever its file says.
func TestSessionWarningExpiryAndRecovery(t *testing.T) {
	t.Parallel()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	timings := "  authentication: {method: EmailCode, codeValidity: 30s, signInTimeout: 40s, sessionIdleTimeout: 40s, sessionMaxLifetime: 10m, resendCooldown: 10s}\n"
	election := runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), "")
	data := readText(t, election)
	data = strings.Replace(data, "  authentication: {method: EmailCode}\n", timings, 1)
	writeText(t, election, data)
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election, "--roll", runtimetest.RollFile(t, dir, 2),
		"--store", "embedded:"+filepath.Join(dir, "data", "e.db"), "--smtp", smtp.Addr())

	ctx := browser.Start(t)
	signInWithMail(t, ctx, rt.URL, smtp, 1, "#ballot-form")
	if visible(t, ctx, "#session-warning") {
		t.Fatal("the expiry warning shows right after sign-in")
	}
	// Idle 40 s, warned 10 s before the end.
	time.Sleep(33 * time.Second)
	if !visible(t, ctx, "#session-warning") {
		t.Fatal("no warning 7 s before the session ends")
	}
	do(t, ctx, "extend", chromedp.Click(chromedp.CSS("#session-warning-extend")))
	time.Sleep(2 * time.Second)
	if visible(t, ctx, "#session-warning") {
		t.Error("the warning stays after extending")
	}
	do(t, ctx, "choose",
		chromedp.Click(chromedp.CSS("#q_chair_bob")),
		chromedp.SetValue(chromedp.CSS("#r_motions_m3"), "1"),
		chromedp.SetValue(chromedp.CSS("#r_motions_m1"), "2"))
	// The voter goes for a coffee: the session ends.
	time.Sleep(43 * time.Second)
	do(t, ctx, "submit after the session ended",
		chromedp.Click(chromedp.CSS("#ballot-submit")),
		chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	if page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").dataset.page`)); page != "session-expired" {
		t.Fatalf("after the session ended, the ballot form brings the %q page", page)
	}
	checkAxe(t, ctx, "session-expired")
	// Nothing was sealed without a live session; the choices were kept in this
	// window, and the ballot shows them again once signed in.
	signInWithMailFromHere(t, ctx, smtp, 1, "#ballot-form")
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("q_chair_bob").checked && document.getElementById("r_motions_m3").value === "1" && document.getElementById("r_motions_m1").value === "2" && !!document.getElementById("notice")`))
	if err != nil || !kept {
		t.Fatalf("after signing in again, the ballot does not show the choices made before (Bob, M3 then M1) (%v)", err)
	}
	do(t, ctx, "send the ballot again", chromedp.Click(chromedp.CSS("#ballot-submit")), chromedp.WaitVisible(chromedp.CSS("#review-list")))
	review, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#review-list")))
	if err != nil || !strings.Contains(review, "Bob") || strings.Index(review, "M3") > strings.Index(review, "M1") {
		t.Fatalf("after signing in again, the review does not show the choices made before (Bob, M3 then M1):\n%s (%v)", review, err)
	}
	do(t, ctx, "confirm", chromedp.Click(chromedp.CSS("#confirm-button")), chromedp.WaitVisible(chromedp.CSS("#vote-recorded")))
	do(t, ctx, "come back to the ballot", chromedp.Navigate(rt.URL+"/ballot"), chromedp.WaitVisible(chromedp.CSS("#page-title")))
	if page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").dataset.page`)); page != "already-voted" {
		t.Errorf("after voting, /ballot shows the %q page", page)
	}
	checkAxe(t, ctx, "already-voted")
}

// signInWithMailFromHere signs in from the sign-in form the current page shows
// (after a session ended, the voter types their id again: nothing identifies them
// any more) and waits for the element wait.
func signInWithMailFromHere(t *testing.T, ctx context.Context, smtp *sink.SMTPSink, i int, wait string) {
	t.Helper()
	do(t, ctx, "ask for a code",
		chromedp.SendKeys(chromedp.CSS("#voter_id"), runtimetest.VoterID(i)),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS("#code-form")))
	mail, err := smtp.WaitFor(runtimetest.VoterEmail(i), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "type the code",
		chromedp.SendKeys(chromedp.CSS("#code"), sink.CodeIn(mail.Body)),
		chromedp.Click(chromedp.CSS("#code-submit")),
		chromedp.WaitVisible(chromedp.CSS(wait)))
}

// TestLateSMSInTheBrowser: the SMS takes 90 s to arrive; the voter, waiting on the
// code page, still signs in with it.
func TestLateSMSInTheBrowser(t *testing.T) {
	t.Parallel()
	sms := sink.StartSMS(t, "gateway-token")
	sms.SetDeliveryDelay(90 * time.Second)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, []string{"SCRUTIN_SMS_TOKEN=gateway-token"},
		"--election", runtimetest.ElectionFile(t, dir, "SMSCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
		"--sms-gateway", sms.URL())
	ctx := browser.Start(t)
	do(t, ctx, "sign in",
		chromedp.Navigate(rt.URL+"/sign-in"),
		chromedp.SendKeys(chromedp.CSS("#voter_id"), runtimetest.VoterID(2)),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS("#code-form")))
	dest, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#code-destination")))
	if !strings.HasPrefix(dest, "+33 6") || !strings.HasSuffix(dest, "02") {
		t.Errorf("the code page says the SMS went to %q", dest)
	}
	asked := time.Now()
	msg, err := sms.WaitFor(runtimetest.VoterPhone(2), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(asked) < 85*time.Second {
		t.Fatalf("the SMS came after %s; the sink should have held it 90 s", time.Since(asked))
	}
	do(t, ctx, "type the late code",
		chromedp.SendKeys(chromedp.CSS("#code"), sink.CodeIn(msg.Text)),
		chromedp.Click(chromedp.CSS("#code-submit")),
		chromedp.WaitVisible(chromedp.CSS("#ballot-form")))
}

// TestStatePages: the pages that say where the vote stands, in both languages, pass
// the accessibility check: not open yet, unknown voter id, closed.
func TestStatePages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	later := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, mkdir(t, dir, "later"), "EmailCode", now.Add(time.Hour), now.Add(2*time.Hour), ""),
		"--roll", runtimetest.RollFile(t, mkdir(t, dir, "later"), 2), "--store", "embedded:"+filepath.Join(dir, "later", "e.db"), "--smtp", "127.0.0.1:1")
	over := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, mkdir(t, dir, "over"), "EmailCode", now.Add(-2*time.Hour), now.Add(-time.Hour), ""),
		"--roll", runtimetest.RollFile(t, mkdir(t, dir, "over"), 2), "--store", "embedded:"+filepath.Join(dir, "over", "e.db"), "--smtp", "127.0.0.1:1")
	open := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, mkdir(t, dir, "open"), "EmailCode", now.Add(-time.Hour), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, mkdir(t, dir, "open"), 2), "--store", "embedded:"+filepath.Join(dir, "open", "e.db"), "--smtp", "127.0.0.1:1")
	for _, lang := range []string{"fr", "en"} {
		ctx := browser.Start(t)
		do(t, ctx, "set the language", acceptLanguage(lang))
		for name, visit := range map[string]func(){
			"not-open": func() { do(t, ctx, "home", chromedp.Navigate(later.URL+"/")) },
			"closed":   func() { do(t, ctx, "home", chromedp.Navigate(over.URL+"/")) },
			"unknown-voter": func() {
				do(t, ctx, "unknown id", chromedp.Navigate(open.URL+"/sign-in"),
					chromedp.SendKeys(chromedp.CSS("#voter_id"), "NOBODY-42"), chromedp.Click(chromedp.CSS("#signin-submit")),
					chromedp.WaitVisible(chromedp.CSS("#unknown-voter-text")))
			},
		} {
			visit()
			do(t, ctx, name, chromedp.WaitVisible(chromedp.CSS("#page-title")))
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").dataset.page`))
			if page != name {
				t.Errorf("%s (%s): the %q page is shown", name, lang, page)
			}
			(&checker{t: t, ctx: ctx, lang: lang}).page(name)
		}
	}
	// The opening time is written in the browser's time zone by the script, and
	// stays in the page without it.
	ctx := browser.Start(t)
	do(t, ctx, "home", chromedp.Navigate(later.URL+"/"), chromedp.WaitVisible(chromedp.CSS("time#opens-at")))
	when, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("time#opens-at")))
	if strings.TrimSpace(when) == "" {
		t.Error("the not-open page does not say when the vote opens")
	}
}

func checkAxe(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	violations, err := browser.Axe(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Errorf("%s: accessibility violation %s (%s): %s", name, v.ID, v.Impact, v.Help)
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeText(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMorePages: the credential page, too many attempts, and the scrutineers' pages
// (token form, then live participation) pass the accessibility check.
func TestMorePages(t *testing.T) {
	t.Parallel()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "Credential", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
		"--smtp", smtp.Addr(), "--scrutineer-token-file", filepath.Join(dir, "scrutineer-token"))
	ctx := browser.Start(t)
	c := &checker{t: t, ctx: ctx, lang: "en"}
	do(t, ctx, "language", acceptLanguage("en"))
	do(t, ctx, "sign in with a credential",
		chromedp.Navigate(rt.URL+"/sign-in"),
		chromedp.SendKeys(chromedp.CSS("#voter_id"), runtimetest.VoterID(1)),
		chromedp.Click(chromedp.CSS("#signin-submit")),
		chromedp.WaitVisible(chromedp.CSS("#credential-form")))
	c.page("credential")
	for range 5 {
		do(t, ctx, "a wrong credential", chromedp.SetValue(chromedp.CSS("#credential"), "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-F"))
		submitAndWait(t, ctx, "#credential-submit")
	}
	// the voter is locked out: the credential page says until when, in words about
	// a personal voting code (no code is sent with this method)
	if page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").dataset.page`)); page != "credential" {
		t.Fatalf("after 5 wrong credentials the %q page is shown, want the credential page with the lockout", page)
	}
	notice, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText`))
	if !strings.Contains(notice, "personal voting codes were typed") || !strings.Contains(notice, "try again at") || strings.Contains(notice, "new code") {
		t.Fatalf("after 5 wrong credentials the page says %q, want when to try again, and nothing of a new code", notice)
	}
	c.page("credential")

	do(t, ctx, "scrutineers' sign-in", chromedp.Navigate(rt.URL+"/scrutineer"), chromedp.WaitVisible(chromedp.CSS("#scrutineer-form")))
	c.page("scrutineer-signin")
	do(t, ctx, "scrutineers' token",
		chromedp.SendKeys(chromedp.CSS("#scrutineer-token"), runtimetest.ReadFile(t, filepath.Join(dir, "scrutineer-token"))),
		chromedp.Click(chromedp.CSS("#scrutineer-submit")),
		chromedp.WaitVisible(chromedp.CSS("#count-voters")))
	c.page("scrutineer")
	voters, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#count-voters")))
	if strings.TrimSpace(voters) != "2" {
		t.Errorf("the scrutineers' page counts %q voters, want 2", voters)
	}
}

// submitAndWait clicks a submit button and waits for the next page to be loaded
// (the old page stays on screen while the new one comes).
func submitAndWait(t *testing.T, ctx context.Context, button string) {
	t.Helper()
	actAndWait(t, ctx, "click "+button, chromedp.Click(chromedp.CSS(button)))
}

// actAndWait runs actions that send a form and waits for the next page to be
// loaded: it marks the page shown, and waits for a page without the mark.
func actAndWait(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	mark := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`window.__old = true`)(ctx, tg)
		return err
	})
	do(t, ctx, what, append([]chromedp.Action[chromedp.Void]{mark}, actions...)...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__old === undefined && document.readyState === "complete"`))
		if err == nil && fresh {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new page after %s (%v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
