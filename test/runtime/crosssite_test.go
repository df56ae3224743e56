package runtime

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// startOpen runs the runtime on an open election of n voters (EmailCode, mail to
// smtp) with extra flags.
func startOpen(t *testing.T, smtp *sink.SMTPSink, n int, extra ...string) *runtimetest.Instance {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	args := append([]string{
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, n), "--store", "embedded:" + filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
	}, extra...)
	return runtimetest.Start(t, runtimeBin, nil, args...)
}

// sessionOf is the session cookie the voter's client holds for base.
func sessionOf(t *testing.T, v *voter) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(v.base)
	for _, c := range v.http.Jar.Cookies(u) {
		if c.Name == "scrutin_session" {
			return c
		}
	}
	t.Fatal("the voter holds no session cookie")
	return nil
}

// holdCasts opens n casts to /api/v1/ballot, with the voter's session, whose
// bodies never finish: each holds a place in flight (the admission's casts'
// share) until the runtime stops reading it.
func holdCasts(t *testing.T, base string, session *http.Cookie, n int) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /api/v1/ballot HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr, session.String())
	}
	time.Sleep(500 * time.Millisecond) // the runtime reads their headers and admits them
}

// send posts body to path with the header pairs, without following redirects, and
// returns the answer and its body.
func send(t *testing.T, base, method, path, contentType, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestCrossSiteConfirmRefusedBeforeTheWaitPage: under load, a form another site
// makes the voter's browser post to /ballot/confirm was answered by the wait page
// before the cross-origin check ran, and the wait page wrote the posted fields
// back into a form the script sent again, now from this site, with the voter's
// cookie: the attacker's choices cast as the voter's ballot. The cross-origin check
// now comes first, and a wait page never writes back anything posted.
func TestCrossSiteConfirmRefusedBeforeTheWaitPage(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 2, append([]string{"--max-in-flight", "16"}, oneClientFillsTheBound...)...)
	v := newVoter(rt.URL, nil)
	signIn(t, v, smtp, 1)
	session := sessionOf(t, v)
	holdCasts(t, rt.URL, session, 16) // the runtime is at its bound, even for casts

	forged := url.Values{"q_chair": {"bob"}, "r_motions_m3": {"1"}, "draft": {"forged-draft-from-evil"}}.Encode()
	for _, from := range [][]string{
		{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
	} {
		resp, body := send(t, rt.URL, http.MethodPost, "/ballot/confirm", "application/x-www-form-urlencoded", forged,
			append([]string{"Cookie", session.String()}, from...)...)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `data-page="forbidden"`) {
			t.Errorf("a cross-site confirm under load (%v): %d, want 403 and the forbidden page:\n%s", from, resp.StatusCode, body)
		}
		if strings.Contains(body, "forged-draft-from-evil") || strings.Contains(body, "retry-form") {
			t.Errorf("the answer to a cross-site confirm writes the forged form back:\n%s", body)
		}
	}

	// The same form from this site, under load: the wait page, which sends
	// nothing again and writes nothing of it back; it goes back to the ballot.
	resp, body := send(t, rt.URL, http.MethodPost, "/ballot/confirm", "application/x-www-form-urlencoded", forged,
		"Cookie", session.String(), "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `data-page="wait"`) || !resp.Close {
		t.Fatalf("a confirm at the bound: %d (Connection: close %v), want the wait page:\n%s", resp.StatusCode, resp.Close, body)
	}
	if strings.Contains(body, "<form") || strings.Contains(body, "forged-draft-from-evil") || strings.Contains(body, "bob") {
		t.Errorf("the wait page writes the posted form back:\n%s", body)
	}
	if !strings.Contains(body, `id="retry-link" href="/ballot"`) {
		t.Errorf("the wait page does not go back to the ballot:\n%s", body)
	}
}

// TestAPICrossSiteAndContentType: /api/v1/ballot and /api/v1/sign-out had no
// cross-origin check and took any content type (a text/plain form from another
// site, with the voter's cookie, cast: 201), and json.Decoder ignored whatever
// followed the JSON value. A browser's request from another site is refused, a
// body must be application/json, and nothing may follow it.
func TestAPICrossSiteAndContentType(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 3)
	v := newVoter(rt.URL, nil)
	signIn(t, v, smtp, 1)
	cookie := sessionOf(t, v).String()
	ballot := `{"answers":{"chair":["bob"],"motions":["m3"]}}`

	resp, body := send(t, rt.URL, http.MethodPost, "/api/v1/ballot", "text/plain", ballot, "Cookie", cookie)
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a text/plain cast: %d %s, want 415", resp.StatusCode, body)
	}
	resp, body = send(t, rt.URL, http.MethodPost, "/api/v1/ballot", "application/json", ballot,
		"Cookie", cookie, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"cross-origin"`) {
		t.Errorf("a cross-site cast: %d %s, want 403 cross-origin", resp.StatusCode, body)
	}
	resp, body = send(t, rt.URL, http.MethodPost, "/api/v1/ballot", "application/json", ballot+` {"answers":{}}`, "Cookie", cookie)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a cast with data after the JSON value: %d %s, want 400", resp.StatusCode, body)
	}
	resp, body = send(t, rt.URL, http.MethodPost, "/api/v1/sign-out", "", "", "Cookie", cookie, "Origin", "https://evil.example")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site sign-out: %d %s, want 403", resp.StatusCode, body)
	}
	resp, body = send(t, rt.URL, http.MethodPost, "/api/v1/sign-in", "text/plain", `{"voterId":"`+runtimetest.VoterID(2)+`"}`)
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("a text/plain sign-in: %d %s, want 415", resp.StatusCode, body)
	}
	// None of it cast; the voter's own cast, as JSON, from no other site, does,
	// padded or not.
	if status, _ := v.call(http.MethodGet, "/api/v1/ballot", nil, &struct{}{}); status != http.StatusOK {
		t.Fatalf("the session was ended: %d", status)
	}
	var got castAnswer
	padded := map[string]any{"answers": map[string][]string{"chair": {"alice"}, "motions": {"m1"}}, "padding": strings.Repeat("x", 40)}
	if status, err := v.call(http.MethodPost, "/api/v1/ballot", padded, &got); err != nil || status != http.StatusCreated || got.Tracker == "" {
		t.Fatalf("the voter's cast: %d %+v %v", status, got, err)
	}
}

// TestBallotWithoutSessionMintsNoDraft: a POST to /ballot without a session had the
// form's choices sealed into a draft for anyone, bound to no voter, which a forged
// confirm form then carried. Without a live session nothing is sealed.
func TestBallotWithoutSessionMintsNoDraft(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 1)
	resp, body := send(t, rt.URL, http.MethodPost, "/ballot", "application/x-www-form-urlencoded", "q_chair=bob&r_motions_m1=1")
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, `name="draft"`) {
		t.Fatalf("a ballot form without a session: %d, a draft in the page: %v", resp.StatusCode, strings.Contains(body, `name="draft"`))
	}
	// a forged cookie is no session either
	resp, body = send(t, rt.URL, http.MethodPost, "/ballot", "application/x-www-form-urlencoded", "q_chair=bob&r_motions_m1=1",
		"Cookie", "scrutin_session=forged")
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, `name="draft"`) {
		t.Fatalf("a ballot form with a forged session: %d, a draft in the page: %v", resp.StatusCode, strings.Contains(body, `name="draft"`))
	}
}

// readStatus reads the status line of an answer on c.
func readStatus(c net.Conn) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
