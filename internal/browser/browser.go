// Package browser starts Debian's Chromium headless for tests, driven with chromedp,
// with the flags this workplace needs (no background networking: the machine's
// network is closed) and a fresh profile each time, and checks pages with axe-core.
package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is Chromium's binary; $CHROMIUM overrides it.
func Path() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// Start launches a headless Chromium for t and returns a chromedp context for a
// first tab; it stops when the test ends. A missing Chromium fails the test (the
// project's .ci/run installs it): browser tests never skip silently.
func Start(t testing.TB) context.Context {
	t.Helper()
	if _, err := exec.LookPath(Path()); err != nil {
		t.Fatalf("Chromium not found at %s (apt-get install chromium): %v", Path(), err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path()),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.WindowSize(375, 812),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// Do runs browser actions with a 30-second deadline. On failure it saves a
// screenshot of where the browser stood under root/_output/screenshots and fails
// the test with the page's text (its main element, else its body).
func Do(t testing.TB, ctx context.Context, root, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, actions...); err != nil {
		shot := filepath.Join(root, "_output", "screenshots", "failed-"+strings.ReplaceAll(t.Name(), "/", "-")+".png")
		if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.MkdirAll(filepath.Dir(shot), 0o755)
			_ = os.WriteFile(shot, png, 0o644)
		}
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const m = document.querySelector("main");
			if (m) return m.dataset.page + ": " + m.innerText.slice(0, 400);
			return document.body ? document.body.innerText.slice(0, 400) : document.title;
		})()`))
		t.Fatalf("%s: %v\n(page: %s; screenshot %s)", what, err, page, shot)
	}
}

// Violation is one axe-core finding.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// Axe runs axe-core's WCAG 2.x A and AA rules on the current page and returns the
// serious and critical violations. axe-core comes from test/browser/node_modules
// (npm ci --prefix test/browser).
func Axe(ctx context.Context, root string) ([]Violation, error) {
	src, err := os.ReadFile(filepath.Join(root, "test", "browser", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		return nil, fmt.Errorf("axe-core is not installed (npm ci --prefix test/browser): %w", err)
	}
	script := string(src) + `;
		axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})
		   .then(r => r.violations)`
	all, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](script, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("running axe-core: %w", err)
	}
	var serious []Violation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			serious = append(serious, v)
		}
	}
	return serious, nil
}
