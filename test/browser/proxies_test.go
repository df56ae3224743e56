package browser

import (
	"encoding/json"
	"net/http"
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

// TestHolderVotesForThreeInTheBrowser: a member holding three proxies signs in
// once; the ballot page says in plain words that they vote for themselves and
// for three members, named as the roll names them; they cast their own ballot,
// then one for each mandate from the receipt's links (each page saying whose
// ballot it is); a mandate cannot be used twice; the pages pass axe.
func TestHolderVotesForThreeInTheBrowser(t *testing.T) {
	t.Parallel()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	list := filepath.Join(dir, "proxies.csv")
	if err := os.WriteFile(list, []byte("grantor,holder\nV-0002,V-0001\nV-0003,V-0001\nV-0004,V-0001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	election := runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour),
		"  languages: [en]\n  proxies: {maxPerHolder: 3, secretRef: {name: proxies}}\n")
	tokenFile := filepath.Join(dir, "control-token")
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election, "--roll", runtimetest.RollFile(t, dir, 5),
		"--proxies", list, "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(), "--control-token-file", tokenFile)

	ctx := browser.Start(t)
	signInWithMail(t, ctx, rt.URL, smtp, 1, "#ballot-form")
	panel, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#proxies")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"You vote for yourself and for 3 members who gave you their proxy", "Your own ballot",
		"Vote for Voter 2 (V-0002)", "Vote for Voter 3 (V-0003)", "Vote for Voter 4 (V-0004)"} {
		if !strings.Contains(panel, want) {
			t.Errorf("the ballot page's proxies say:\n%s\nwithout %q", panel, want)
		}
	}
	checkAxe(t, ctx, "ballot with mandates")

	vote := func(who string) {
		t.Helper()
		do(t, ctx, "choose for "+who,
			chromedp.Click(chromedp.CSS("#q_chair_alice")),
			chromedp.SetValue(chromedp.CSS("#r_motions_m1"), "1"))
		submitAndWait(t, ctx, "#ballot-submit")
		submitAndWait(t, ctx, "#confirm-button")
		do(t, ctx, "the receipt for "+who, chromedp.WaitVisible(chromedp.CSS("#vote-recorded")))
	}
	vote("themselves")
	for _, g := range []string{"V-0002", "V-0003", "V-0004"} {
		actAndWait(t, ctx, "follow the link for "+g, chromedp.Click(chromedp.CSS("#vote-for-"+g)))
		whose, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#ballot-for")))
		if err != nil || !strings.Contains(whose, "This ballot is for Voter "+g[len(g)-1:]+" ("+g+"), who gave you their proxy") {
			t.Fatalf("the ballot for %s says %q (%v)", g, whose, err)
		}
		vote(g)
		said, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#receipt-for")))
		if !strings.Contains(said, "The ballot of Voter "+g[len(g)-1:]+" ("+g+") is in the ballot box") {
			t.Errorf("the receipt for %s says %q", g, said)
		}
	}
	checkAxe(t, ctx, "receipt for a mandate")
	panel, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#proxies")))
	if strings.Contains(panel, "Vote for") || strings.Count(panel, "in the ballot box") != 4 {
		t.Errorf("after the four ballots the proxies say:\n%s", panel)
	}
	// The mandate used: its ballot page says so, and nothing is cast again.
	do(t, ctx, "open a used mandate", chromedp.Navigate(rt.URL+"/ballot?for=V-0002"), chromedp.WaitVisible(chromedp.CSS("#already-voted-text")))
	if said, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#already-voted-text"))); !strings.Contains(said, "The ballot of Voter 2 (V-0002) is already in the ballot box") {
		t.Errorf("a used mandate's page says %q", said)
	}
	// A member whose proxy the holder does not hold: their own ballot, said so.
	do(t, ctx, "name a member without a proxy", chromedp.Navigate(rt.URL+"/ballot?for=V-0005"), chromedp.WaitVisible(chromedp.CSS("#page-title")))
	if page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("main").dataset.page`)); page != "already-voted" {
		t.Errorf("a ballot for a member without a proxy shows the %q page", page)
	}
	req, _ := http.NewRequest(http.MethodGet, rt.OpsURL+"/control/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+runtimetest.ReadFile(t, tokenFile))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ BallotsCast int64 }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.BallotsCast != 4 {
		t.Errorf("status %d: %d ballots (%v), want 4", resp.StatusCode, st.BallotsCast, err)
	}
}

// TestVoterGivesTheirProxyInTheBrowser: before the opening a member signs in,
// follows the not-open page's link to the proxy page, gives their vote to
// another member and withdraws it; the pages pass axe, the refusal included.
func TestVoterGivesTheirProxyInTheBrowser(t *testing.T) {
	t.Parallel()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	opens := now.Add(2 * time.Hour)
	election := runtimetest.ElectionFile(t, dir, "EmailCode", opens, opens.Add(time.Hour),
		"  languages: [en]\n  proxies: {maxPerHolder: 1, givenBy: Voters}\n")
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election, "--roll", runtimetest.RollFile(t, dir, 3),
		"--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr())

	ctx := browser.Start(t)
	signInWithMail(t, ctx, rt.URL, smtp, 1, "#proxy-page-link")
	actAndWait(t, ctx, "follow the link to the proxy page", chromedp.Click(chromedp.CSS("#proxy-page-link")))
	checkAxe(t, ctx, "proxy page")
	do(t, ctx, "name a member not on the roll", chromedp.SendKeys(chromedp.CSS("#holder"), "V-9999"))
	submitAndWait(t, ctx, "#proxy-submit")
	if said, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#holder-error"))); !strings.Contains(said, "This voter id is not on the roll") {
		t.Errorf("the refusal says %q", said)
	}
	checkAxe(t, ctx, "proxy page with an error")
	do(t, ctx, "name a member", chromedp.Clear(chromedp.CSS("#holder")), chromedp.SendKeys(chromedp.CSS("#holder"), "V-0002"))
	submitAndWait(t, ctx, "#proxy-submit")
	if said, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#proxy-given"))); !strings.Contains(said, "You gave your vote to Voter 2 (V-0002)") {
		t.Errorf("after giving the proxy the page says %q", said)
	}
	if _, err := smtp.WaitFor(runtimetest.VoterEmail(2), 20*time.Second); err != nil {
		t.Errorf("no notice to the holder: %v", err)
	}
	checkAxe(t, ctx, "proxy given")
	submitAndWait(t, ctx, "#withdraw-button")
	if !visible(t, ctx, "#proxy-form") {
		t.Error("after the withdrawal the form to give a proxy is not shown again")
	}
}
