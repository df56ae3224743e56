package runtime

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
)

// rawGet sends GET target exactly as written (no client normalises it) and returns
// the answer and its body.
func rawGet(t *testing.T, base, target string) (*http.Response, string) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept-Language: en\r\nConnection: close\r\n\r\n", target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var pageLinks = regexp.MustCompile(`(?:href|action|formaction)="([^"]*)"|url=([^"]*)"`)

// offSite lists the links and refresh targets of a page that a browser would take
// to another host: after dropping tabs and newlines and reading "\" as "/" (as
// browsers do), anything that starts with "//" or names a scheme other than data:
// (the pages' empty icon).
func offSite(body string) []string {
	var bad []string
	for _, m := range pageLinks.FindAllStringSubmatch(body, -1) {
		link := html.UnescapeString(m[1] + m[2])
		norm := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(strings.TrimSpace(link))
		scheme, _, hasScheme := strings.Cut(strings.SplitN(norm, "/", 2)[0], ":")
		if strings.HasPrefix(norm, "//") || (hasScheme && scheme != "data") {
			bad = append(bad, link)
		}
	}
	return bad
}

// TestWaitPageAndLanguageLinksStayOnSite: the wait page went
// back to r.URL.RequestURI() and the language switch linked to r.URL.Path: under
// load, GET //evil.example/ was answered with a 503 whose
// <meta http-equiv="refresh" content="2; url=//evil.example/"> and retry link took
// the voter to another site (an open redirect), and every page's language link did
// the same. Both are built from the cleaned, escaped path: with and without load,
// for //evil.example/, /\evil.example and their encoded variants, no link or
// refresh of the answer leaves the site.
func TestWaitPageAndLanguageLinksStayOnSite(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), "  scaling: {maxInFlightRequestsPerPod: 8}\n"),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", "127.0.0.1:1",
		oneClientFillsTheBound[0], oneClientFillsTheBound[1])
	targets := []string{
		"//evil.example/", "//evil.example", "///evil.example/", `/\evil.example`, `/\/evil.example/`,
		"/%2F%2Fevil.example/", "/%2Fevil.example/", "/%5Cevil.example", "/%5C%5Cevil.example", "/%09/evil.example",
		"/.//evil.example/", "/x/..//evil.example/", "//evil.example/?lang=en", "/%2F%2Fevil.example/?a=%2F%2Fb",
	}
	check := func(load string) {
		for _, target := range targets {
			resp, body := rawGet(t, rt.URL, target)
			if bad := offSite(body); len(bad) > 0 {
				t.Errorf("%s, GET %s: %d with links off the site %q", load, target, resp.StatusCode, bad)
			}
			if loc := resp.Header.Get("Location"); loc != "" && strings.HasPrefix(strings.ReplaceAll(loc, `\`, "/"), "//") {
				t.Errorf("%s, GET %s: redirected to %q", load, target, loc)
			}
			if load == "under load" && resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("GET %s under load: %d, want the wait page", target, resp.StatusCode)
			}
		}
	}
	check("without load")
	holdSignIns(t, rt.URL, 4) // pages (50 % of 8) are turned away from here on
	check("under load")
	resp, body := rawGet(t, rt.URL, "//evil.example/")
	if !strings.Contains(body, `url=/evil.example"`) || !strings.Contains(body, `id="retry-link" href="/evil.example"`) {
		t.Errorf("the wait page of //evil.example/ (%d) does not go back to the local /evil.example:\n%s", resp.StatusCode, body)
	}
}
