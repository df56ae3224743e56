// Package browser tests the voter pages as people use them: in Debian's Chromium,
// headless, against the voting-runtime binary on 127.0.0.1, with codes read from a
// real SMTP sink. Every page is checked with axe-core (WCAG 2.x A/AA, no serious
// violation) and screenshotted at 375 and 1280 px into _output/screenshots.
package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/controlplane"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

var (
	runtimeBin string
	root       string
)

func TestMain(m *testing.M) {
	var err error
	if root, err = controlplane.Root(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(runtimetest.Main(m, &runtimeBin))
}

// checker checks the page now shown: it is the one expected (its h1), axe-core finds no
// serious violation, and it is screenshotted at a phone's and a desktop's width.
type checker struct {
	t    *testing.T
	ctx  context.Context
	lang string
}

func (c *checker) page(name string) {
	c.t.Helper()
	do(c.t, c.ctx, name+": the page title", chromedp.WaitVisible(chromedp.CSS("#page-title")))
	lang, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil || lang != c.lang {
		c.t.Errorf("%s: <html lang=%q>, want %q (%v)", name, lang, c.lang, err)
	}
	violations, err := browser.Axe(c.ctx, root)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, v := range violations {
		c.t.Errorf("%s (%s): accessibility violation %s (%s): %s at %v", name, c.lang, v.ID, v.Impact, v.Help, v.Nodes)
	}
	dir := filepath.Join(root, "_output", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	for _, width := range []int64{375, 1280} {
		if err := chromedp.Do(c.ctx, chromedp.EmulateViewport(width, 900)); err != nil {
			c.t.Fatal(err)
		}
		png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			c.t.Fatalf("%s: screenshot: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.png", name, c.lang, width)), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
		// No horizontal scrolling at a phone's width.
		if width == 375 {
			over, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`))
			if err != nil || over {
				c.t.Errorf("%s: the page scrolls sideways at 375 px (%v)", name, err)
			}
		}
	}
	// WCAG reflow: usable at 320 CSS px (a phone, or 1280 px at 400 % zoom; 200 %
	// zoom of a 640 px window gives the same), without sideways scrolling.
	if err := chromedp.Do(c.ctx, chromedp.EmulateViewport(320, 800)); err != nil {
		c.t.Fatal(err)
	}
	over, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > document.documentElement.clientWidth + 1`))
	if err != nil || over {
		c.t.Errorf("%s: the page scrolls sideways at 320 px (%v)", name, err)
	}
	if err := chromedp.Do(c.ctx, chromedp.EmulateViewport(375, 812)); err != nil {
		c.t.Fatal(err)
	}
}

// acceptLanguage makes the browser ask for pages in lang, as a browser set to that
// language does.
func acceptLanguage(lang string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return err
	})
}

// TestVoterJourney: a voter signs in with the code read from the mail sink, answers a
// single-choice and a ranked question, reviews, confirms, gets a receipt, and after
// the close finds the tracker on the bulletin board; in French and in English.
func TestVoterJourney(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	closes := now.Add(50 * time.Second)
	// Every question kind: single choice, multiple choice (with a blank vote), ranked.
	election := runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), closes, "")
	writeText(t, election, strings.Replace(readText(t, election), "  - id: motions\n", `  - id: council
    prompt: Elect the council
    kind: MultipleChoice
    maxChoices: 2
    allowBlank: true
    options: [{id: carla, label: Carla}, {id: dan, label: Dan}, {id: eve, label: Eve}]
  - id: motions
`, 1))
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", election,
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
		"--smtp", smtp.Addr())

	trackers := map[string]string{}
	for i, lang := range []string{"fr", "en"} {
		ctx := browser.Start(t)
		if err := chromedp.Do(ctx, acceptLanguage(lang)); err != nil {
			t.Fatal(err)
		}
		c := &checker{t: t, ctx: ctx, lang: lang}
		voter := i + 1
		do(t, ctx, "open the sign-in page", chromedp.Navigate(rt.URL+"/sign-in"))
		c.page("sign-in")
		do(t, ctx, "send the voter id",
			chromedp.SendKeys(chromedp.CSS("#voter_id"), runtimetest.VoterID(voter)),
			chromedp.Click(chromedp.CSS("#signin-submit")),
			chromedp.WaitVisible(chromedp.CSS("#code-form")))
		dest, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#code-destination")))
		if err != nil || !strings.HasPrefix(dest, "v•••@") {
			t.Errorf("the code page says the code went to %q (%v)", dest, err)
		}
		c.page("code")
		mail, err := smtp.WaitFor(runtimetest.VoterEmail(voter), 20*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		do(t, ctx, "type the code",
			chromedp.SendKeys(chromedp.CSS("#code"), sink.CodeIn(mail.Body)),
			chromedp.Click(chromedp.CSS("#code-submit")),
			chromedp.WaitVisible(chromedp.CSS("#ballot-form")))
		c.page("ballot")
		council := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS("#q_council_carla")), chromedp.Click(chromedp.CSS("#q_council_dan"))}
		if lang == "en" {
			council = []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS("#q_council__blank"))}
		}
		do(t, ctx, "choose on the multiple-choice question", council...)
		do(t, ctx, "choose",
			chromedp.Click(chromedp.CSS("#q_chair_alice")),
			chromedp.SetValue(chromedp.CSS("#r_motions_m2"), "1"),
			chromedp.SetValue(chromedp.CSS("#r_motions_m1"), "2"),
			chromedp.Click(chromedp.CSS("#ballot-submit")),
			chromedp.WaitVisible(chromedp.CSS("#review-list")))
		c.page("review")
		review, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#review-list")))
		if err != nil || !strings.Contains(review, "Alice") || strings.Index(review, "M2") > strings.Index(review, "M1") {
			t.Errorf("the review page does not show Alice and M2 before M1:\n%s (%v)", review, err)
		}
		if lang == "fr" && (!strings.Contains(review, "Carla") || !strings.Contains(review, "Dan")) {
			t.Errorf("the review page does not show Carla and Dan:\n%s", review)
		}
		if lang == "en" && strings.Contains(review, "Carla") {
			t.Errorf("the review shows a council choice after a blank vote:\n%s", review)
		}
		do(t, ctx, "confirm",
			chromedp.Click(chromedp.CSS("#confirm-button")),
			chromedp.WaitVisible(chromedp.CSS("#vote-recorded")))
		c.page("receipt")
		tracker, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#tracker")))
		if err != nil || len(strings.TrimSpace(tracker)) != 64 {
			t.Fatalf("receipt tracker %q (%v)", tracker, err)
		}
		trackers[lang] = strings.TrimSpace(tracker)
	}

	time.Sleep(time.Until(closes) + 2*time.Second)
	ctx := browser.Start(t)
	c := &checker{t: t, ctx: ctx, lang: "en"}
	if err := chromedp.Do(ctx, acceptLanguage("en")); err != nil {
		t.Fatal(err)
	}
	for lang, tracker := range trackers {
		do(t, ctx, "board search", chromedp.Navigate(rt.URL+"/board"),
			chromedp.SendKeys(chromedp.CSS("#tracker-query"), tracker),
			chromedp.Click(chromedp.CSS("#find-button")),
			chromedp.WaitVisible(chromedp.CSS("#find-result")))
		found, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#find-result").dataset.found`))
		if err != nil || found != "true" {
			t.Errorf("the %s voter's tracker is not found on the board (data-found=%q, %v)", lang, found, err)
		}
	}
	c.page("board")
	do(t, ctx, "results page", chromedp.Navigate(rt.URL+"/results"), chromedp.WaitVisible(chromedp.CSS("#winners_chair")))
	c.page("results")
}
