package browser

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/controlplane"
)

// TestAxeFindsViolations: the harness starts Chromium, loads a page from 127.0.0.1
// and axe-core reports a missing label and a missing language, and nothing on a
// correct page.
func TestAxeFindsViolations(t *testing.T) {
	root, err := controlplane.Root()
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{
		"/bad":  `<!doctype html><html><head><title>x</title></head><body><main><h1>Bad</h1><input type="text"></main></body></html>`,
		"/good": `<!doctype html><html lang="en"><head><title>Good</title></head><body><main><h1>Good</h1><label for="v">Voter id</label><input id="v" type="text"></main></body></html>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, pages[r.URL.Path])
	}))
	defer srv.Close()
	ctx := Start(t)
	for path, wantBad := range map[string]bool{"/bad": true, "/good": false} {
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible("h1")); err != nil {
			t.Fatal(err)
		}
		v, err := Axe(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range v {
			ids = append(ids, x.ID)
		}
		if got := len(v) > 0; got != wantBad {
			t.Errorf("%s: serious violations %v, want some=%v", path, ids, wantBad)
		}
		if wantBad && !strings.Contains(strings.Join(ids, ","), "label") {
			t.Errorf("%s: the missing label was not reported: %v", path, ids)
		}
	}
}
