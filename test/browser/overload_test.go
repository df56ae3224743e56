package browser

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"scrutin.dev/scrutin/internal/browser"
	"scrutin.dev/scrutin/internal/runtimetest"
)

// holdRequests opens n requests that stay in flight: they send their headers and
// then only the first byte of their body, so the runtime's handlers wait on them.
func holdRequests(t *testing.T, base string, n int) (release func()) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /api/v1/sign-in HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
		conns = append(conns, c)
	}
	time.Sleep(300 * time.Millisecond) // the runtime reads their headers and admits them
	return func() {
		for _, c := range conns {
			c.Close()
		}
	}
}

// TestOverloadWaitPage: when the runtime is at its bound, a voter asking for a page
// gets the wait page at once (it says they lose nothing), and goes on by themselves
// when the load clears.
func TestOverloadWaitPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	// The Election's bound of 8, the least it may set: pages (50 %) are turned away
	// once 4 requests are in flight.
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), "  scaling: {maxInFlightRequestsPerPod: 8}\n"),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "data", "e.db"),
		"--smtp", "127.0.0.1:1",
		// the bound is filled from this one test process: no bound per address;
		// the held sign-ins stay in flight while the browser starts (a sign-in
		// body is otherwise cut after 5 s)
		"--max-in-flight-per-address=0", "--sign-in-body-read-timeout=2m")
	release := holdRequests(t, rt.URL, 4)
	ctx := browser.Start(t)
	do(t, ctx, "language", acceptLanguage("en"))
	start := time.Now()
	do(t, ctx, "ask for the sign-in page under load", chromedp.Navigate(rt.URL+"/sign-in"), chromedp.WaitVisible(chromedp.CSS("#wait-text")))
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the wait page took %s", waited)
	}
	keep, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#wait-keep")))
	if !strings.Contains(strings.ToLower(keep), "session") {
		t.Errorf("the wait page does not say the voter keeps their place and session: %q", keep)
	}
	// The wait page refreshes itself every 2 s while the load lasts, onto the same
	// page: an accessibility check that a refresh interrupts runs again on the next.
	for attempt := 1; ; attempt++ {
		do(t, ctx, "the wait page", chromedp.WaitVisible(chromedp.CSS("#wait-text")))
		violations, err := browser.Axe(ctx, root)
		if err != nil && strings.Contains(err.Error(), "navigated") && attempt < 10 {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range violations {
			t.Errorf("wait page: accessibility violation %s (%s): %s at %v", v.ID, v.Impact, v.Help, v.Nodes)
		}
		break
	}
	release()
	do(t, ctx, "the page comes by itself once the load clears", chromedp.WaitVisible(chromedp.CSS("#signin-form")))
}
