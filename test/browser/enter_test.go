package browser

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// shown is the page the browser shows: its main[data-page] and <html lang>.
func shown(t *testing.T, ctx context.Context) (page, lang string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.querySelector("main").dataset.page, document.documentElement.lang]`))
	if err != nil || len(got) != 2 {
		t.Fatalf("reading the page shown: %v", err)
	}
	return got[0], got[1]
}

// enter types text into the field sel, presses Enter there and waits for the page
// that comes, which must be want, still in French.
func enter(t *testing.T, ctx context.Context, sel, text, want string) {
	t.Helper()
	empty := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.querySelector("`+sel+`").value = "") === ""`)(ctx, tg)
		return err
	})
	actAndWait(t, ctx, "Enter in "+sel, empty, chromedp.SendKeys(chromedp.CSS(sel), text+kb.Enter))
	if page, lang := shown(t, ctx); page != want || lang != "fr" {
		t.Fatalf("Enter in %s brought the %q page in %q, want the %q page in fr", sel, page, lang, want)
	}
}

// TestEnterSubmitsTheMainForm: Enter in a field of a page's form does what the
// form's main button does (the implicit submission clicks the form's first
// submit button, and the language switch and the session's extend button
// submit the same form from the header), and the language switch still keeps
// what the voter typed.
func TestEnterSubmitsTheMainForm(t *testing.T) {
	t.Run("code", func(t *testing.T) {
		smtp := sink.StartSMTP(t)
		dir := t.TempDir()
		now := time.Now()
		rt := runtimetest.Start(t, runtimeBin, nil,
			"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
			"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
			"--smtp", smtp.Addr())
		ctx := browser.Start(t)
		do(t, ctx, "language", acceptLanguage("fr"))
		do(t, ctx, "open the sign-in page", chromedp.Navigate(rt.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#signin-form")))

		// The language switch sends what was typed to the page in the other language.
		actAndWait(t, ctx, "switch to English", chromedp.SendKeys(chromedp.CSS("#voter_id"), "V-0042"), chromedp.Click(chromedp.CSS("#lang-en")))
		typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#voter_id")))
		if page, lang := shown(t, ctx); page != "signin" || lang != "en" || typed != "V-0042" || err != nil {
			t.Fatalf("the language switch brought the %q page in %q with %q typed (%v), want the sign-in page in en with V-0042", page, lang, typed, err)
		}
		actAndWait(t, ctx, "switch back to French", chromedp.Click(chromedp.CSS("#lang-fr")))

		enter(t, ctx, "#voter_id", "V-9999", "unknown-voter")
		checkAxe(t, ctx, "unknown-voter")
		enter(t, ctx, "#voter_id", runtimetest.VoterID(1), "code")
		checkAxe(t, ctx, "code")
		mail, err := smtp.WaitFor(runtimetest.VoterEmail(1), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		code := sink.CodeIn(mail.Body)
		wrong := []byte(code)
		wrong[0] = '0' + (wrong[0]-'0'+1)%10
		enter(t, ctx, "#code", string(wrong), "code")
		if !visible(t, ctx, "#code-error") {
			t.Fatal("Enter with a wrong code does not say the code is wrong")
		}
		enter(t, ctx, "#code", code, "ballot")
		checkAxe(t, ctx, "ballot")

		// On the ballot, Enter on a choice sends the ballot to review, not the
		// session's extend button (before the form on the page).
		do(t, ctx, "choose",
			chromedp.Click(chromedp.CSS("#q_chair_alice")),
			chromedp.SetValue(chromedp.CSS("#r_motions_m2"), "1"))
		actAndWait(t, ctx, "Enter on a choice", chromedp.SendKeys(chromedp.CSS("#q_chair_alice"), kb.Enter))
		if page, lang := shown(t, ctx); page != "review" || lang != "fr" {
			t.Fatalf("Enter on a choice of the ballot brought the %q page in %q, want the review in fr", page, lang)
		}
		review, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#review-list")))
		if err != nil || !strings.Contains(review, "Alice") {
			t.Errorf("the review after Enter does not show Alice:\n%s (%v)", review, err)
		}
	})

	t.Run("credential", func(t *testing.T) {
		smtp := sink.StartSMTP(t)
		dir := t.TempDir()
		now := time.Now()
		rt := runtimetest.Start(t, runtimeBin, nil,
			"--election", runtimetest.ElectionFile(t, dir, "Credential", now.Add(-time.Minute), now.Add(time.Hour), ""),
			"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
			"--smtp", smtp.Addr())
		ctx := browser.Start(t)
		do(t, ctx, "language", acceptLanguage("fr"))
		do(t, ctx, "open the sign-in page", chromedp.Navigate(rt.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
		enter(t, ctx, "#voter_id", runtimetest.VoterID(1), "credential")
		enter(t, ctx, "#credential", "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-F", "credential")
		if !visible(t, ctx, "#credential-error") {
			t.Fatal("Enter with a wrong credential does not say the credential is wrong")
		}
		checkAxe(t, ctx, "credential")
	})
}
