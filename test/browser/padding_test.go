package browser

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestBallotRequestLengthInTheBrowser: the ballot form's request was of a length
// that depends on the choices (19/17/18 bytes for the three answers of a
// question): an observer of the encrypted traffic learned the vote. Chromium sends
// the ballot, through a proxy that notes each request's length, for every answer
// of a question (blank too) and several rankings: one length, and so are the
// review pages that come back.
func TestBallotRequestLengthInTheBrowser(t *testing.T) {
	t.Parallel()
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 1), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"), "--smtp", smtp.Addr())
	target, _ := url.Parse(rt.URL)
	var mu sync.Mutex
	requests, reviews := map[int64][]string{}, map[int][]string{}
	var current string
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && resp.Request.URL.Path == "/ballot" {
			mu.Lock()
			defer mu.Unlock()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			requests[resp.Request.ContentLength] = append(requests[resp.Request.ContentLength], current)
			reviews[len(body)] = append(reviews[len(body)], current)
		}
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)

	ctx := browser.Start(t)
	signInWithMail(t, ctx, front.URL, smtp, 1, "#ballot-form")
	type choice struct{ chair, m1, m2, m3 string }
	for _, c := range []choice{
		{"alice", "1", "", ""}, {"bob", "1", "", ""}, {"_blank", "1", "", ""},
		{"alice", "", "", "1"}, {"alice", "3", "1", "2"}, {"alice", "2", "1", ""},
	} {
		mu.Lock()
		current = c.chair + " " + c.m1 + c.m2 + c.m3
		mu.Unlock()
		do(t, ctx, "the ballot", chromedp.Navigate(front.URL+"/ballot"), chromedp.WaitVisible(chromedp.CSS("#ballot-form")))
		do(t, ctx, "choose "+current,
			chromedp.Click(chromedp.CSS("#q_chair_"+c.chair)),
			chromedp.SetValue(chromedp.CSS("#r_motions_m1"), c.m1),
			chromedp.SetValue(chromedp.CSS("#r_motions_m2"), c.m2),
			chromedp.SetValue(chromedp.CSS("#r_motions_m3"), c.m3))
		submitAndWait(t, ctx, "#ballot-submit")
		do(t, ctx, "the review of "+current, chromedp.WaitVisible(chromedp.CSS("#review-list")))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) != 1 {
		t.Errorf("the ballot's request length tells the choice: %v", requests)
	}
	if len(reviews) != 1 {
		t.Errorf("the review page's length tells the choice: %v", reviews)
	}
	t.Logf("request lengths %v, review lengths %v", requests, reviews)
}
