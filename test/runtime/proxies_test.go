package runtime

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestHolderVotesForThreeThroughTheJSONAPI: a runtime process given the
// organiser's list (--proxies: three mandates for V-0001, a fourth over the
// cap): the holder's ballot page lists the three grantors by name, the holder
// casts their own ballot and one for each mandate, and nothing for a member
// whose proxy they do not hold; a grantor whose ballot their holder cast is
// told they have voted; the control API counts the proxies and lists the
// refused line by number and reason, no voter id of it.
func TestHolderVotesForThreeThroughTheJSONAPI(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	proxies := filepath.Join(dir, "proxies.csv")
	list := "grantor,holder\nV-0002,V-0001\nV-0003,V-0001\nV-0004,V-0001\nV-0005,V-0001\n"
	if err := os.WriteFile(proxies, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour),
			"  proxies: {maxPerHolder: 3, secretRef: {name: proxies}}\n"),
		"--roll", runtimetest.RollFile(t, dir, 6), "--proxies", proxies, "--store", "embedded:"+filepath.Join(dir, "e.db"),
		"--smtp", smtp.Addr(), "--control-token-file", filepath.Join(dir, "control-token"))
	holder := newVoter(rt.URL, nil)
	signIn(t, holder, smtp, 1)

	var page struct {
		Mandates []struct {
			VoterID, Name  string
			Voted, ByProxy bool
		}
	}
	if status, err := holder.call(http.MethodGet, "/api/v1/ballot", nil, &page); err != nil || status != http.StatusOK {
		t.Fatalf("the ballot: %d %v", status, err)
	}
	if len(page.Mandates) != 3 || page.Mandates[0].VoterID != "V-0002" || page.Mandates[0].Name != "Voter 2" || page.Mandates[2].VoterID != "V-0004" {
		t.Fatalf("the holder's mandates: %+v", page.Mandates)
	}
	if status, err := holder.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); err != nil || status != http.StatusCreated {
		t.Fatalf("the holder's own ballot: %d %v", status, err)
	}
	cast := func(grantor string) (int, string) {
		body := map[string]any{"answers": sampleAnswers["answers"], "for": grantor}
		var out struct{ Tracker, Error string }
		status, err := holder.call(http.MethodPost, "/api/v1/ballot", body, &out)
		if err != nil {
			t.Fatal(err)
		}
		return status, out.Error
	}
	for _, g := range []string{"V-0002", "V-0003", "V-0004"} {
		if status, _ := cast(g); status != http.StatusCreated {
			t.Fatalf("the ballot for %s: %d", g, status)
		}
	}
	if status, code := cast("V-0002"); status != http.StatusConflict || code != "already-voted" {
		t.Errorf("a mandate used twice: %d %s", status, code)
	}
	if status, code := cast("V-0005"); status != http.StatusForbidden || code != "no-mandate" {
		t.Errorf("a ballot for V-0005, over the cap: %d %s", status, code)
	}
	if status, code := cast("V-0006"); status != http.StatusForbidden || code != "no-mandate" {
		t.Errorf("a ballot for V-0006, who gave no proxy: %d %s", status, code)
	}

	grantor := newVoter(rt.URL, nil)
	signIn(t, grantor, smtp, 3)
	var mine struct{ HasVoted bool }
	if status, err := grantor.call(http.MethodGet, "/api/v1/ballot", nil, &mine); err != nil || status != http.StatusOK || !mine.HasVoted {
		t.Errorf("the grantor whose holder voted: %d %+v %v", status, mine, err)
	}
	if status, _ := grantor.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); status != http.StatusConflict {
		t.Errorf("the grantor's own ballot after their holder's: %d, want 409", status)
	}

	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))
	var st struct {
		BallotsCast int64
		Proxies     struct{ Given, Used, Refused int }
	}
	if code := control(t, rt.OpsURL, token, http.MethodGet, "/control/v1/status", nil, &st); code != http.StatusOK ||
		st.BallotsCast != 4 || st.Proxies.Given != 3 || st.Proxies.Used != 3 || st.Proxies.Refused != 1 {
		t.Errorf("status %d: %+v, want 4 ballots and proxies 3 given, 3 used, 1 refused", code, st)
	}
	code, body := controlRaw(t, rt.OpsURL, token, http.MethodGet, "/control/v1/proxies", nil)
	if want := `{"holders":[{"holder":"V-0001","held":3,"used":3}],"refused":[{"line":5,"reason":"over-cap"}]}`; code != http.StatusOK || strings.TrimSpace(body) != want {
		t.Errorf("proxies: %d %s, want %s", code, body, want)
	}
}

// TestProxiesTriedFromOutside: the voters' proxies against the runtime
// process, as an outsider would try them.
//   - A form posted to /proxy, and a JSON call, from another site: refused
//     before anything is read.
//   - The schedule moved during the run so that the vote opens now (the
//     controller's push, no restart): no proxy is given or withdrawn any
//     more, whatever the Election file's opening said.
//   - The process killed (SIGKILL) after a proxy was given: the proxy is
//     there after the restart.
//   - A body trickled a byte a second: cut at --body-read-timeout, nothing
//     given.
func TestProxiesTriedFromOutside(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	tokenFile := filepath.Join(dir, "control-token")
	args := []string{
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(time.Hour), now.Add(2*time.Hour),
			"  proxies: {maxPerHolder: 2, givenBy: Voters}\n"),
		"--roll", runtimetest.RollFile(t, dir, 5), "--store", "embedded:" + filepath.Join(dir, "e.db"),
		"--smtp", smtp.Addr(), "--control-token-file", tokenFile, "--body-read-timeout", "2s"}
	rt := runtimetest.Start(t, runtimeBin, nil, args...)
	grantor := newVoter(rt.URL, nil)
	signIn(t, grantor, smtp, 1)
	give := func(v *voter, holder string) (int, string) {
		t.Helper()
		var out struct{ Error string }
		status, err := v.call(http.MethodPost, "/api/v1/proxy", map[string]string{"holder": holder}, &out)
		if err != nil {
			t.Fatal(err)
		}
		return status, out.Error
	}
	if status, code := give(grantor, "V-0002"); status != http.StatusCreated {
		t.Fatalf("a proxy before the deadline: %d %s", status, code)
	}

	// From another site: the page's form and the API.
	for _, c := range []struct{ path, ctype, body string }{
		{"/proxy", "application/x-www-form-urlencoded", "holder=V-0003"},
		{"/api/v1/proxy", "application/json", `{"holder":"V-0003"}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, rt.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.ctype)
		req.Header.Set("Origin", "https://elsewhere.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		for _, ck := range grantor.http.Jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s from another site: %d, want 403", c.path, resp.StatusCode)
		}
	}

	// A body trickled by a signed-in voter: cut once its time is up.
	trickler := newVoter(rt.URL, nil)
	signIn(t, trickler, smtp, 4)
	addr := strings.TrimPrefix(rt.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"holder":"V-0005"}`
	fmt.Fprintf(c, "POST /api/v1/proxy HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nCookie: %s=%s\r\n\r\n",
		addr, len(body), sessionOf(t, trickler).Name, sessionOf(t, trickler).Value)
	started := time.Now()
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		_, _ = io.Copy(io.Discard, c) // the answer, then the close
	}()
	for i := 0; i < len(body); i++ {
		if _, err := c.Write([]byte{body[i]}); err != nil {
			break
		}
		select {
		case <-cut:
		case <-time.After(time.Second):
			continue
		}
		break
	}
	select {
	case <-cut:
	case <-time.After(10 * time.Second):
		t.Fatal("a trickled body still held after 10 s")
	}
	if took := time.Since(started); took > 6*time.Second {
		t.Errorf("a body trickled a byte a second was cut after %s, its time being 2 s", took.Round(100*time.Millisecond))
	}
	var trickled struct{ Given *struct{ VoterID string } }
	if status, _ := trickler.call(http.MethodGet, "/api/v1/proxy", nil, &trickled); status != http.StatusOK || trickled.Given != nil {
		t.Errorf("after the trickled body: %d %+v, want no proxy given", status, trickled)
	}

	// Killed and started again: the proxy is in the store.
	rt.Kill9()
	rt = runtimetest.Start(t, runtimeBin, nil, args...)
	grantor = grantor.moveTo(rt.URL)
	var mine struct {
		Allowed bool
		Given   *struct{ VoterID string }
	}
	if status, err := grantor.call(http.MethodGet, "/api/v1/proxy", nil, &mine); err != nil || status != http.StatusOK ||
		mine.Given == nil || mine.Given.VoterID != "V-0002" || !mine.Allowed {
		t.Fatalf("after a kill: %d %+v %v", status, mine, err)
	}

	// The controller moves the opening to now: proxies are settled.
	token := runtimetest.ReadFile(t, tokenFile)
	sc := map[string]any{"opensAt": time.Now().Add(-time.Second).UTC(), "closesAt": now.Add(2 * time.Hour).UTC(), "version": 2}
	if status, body := controlRaw(t, rt.OpsURL, token, http.MethodPost, "/control/v1/schedule", sc); status != http.StatusOK {
		t.Fatalf("moving the schedule: %d %s", status, body)
	}
	other := newVoter(rt.URL, nil)
	signIn(t, other, smtp, 3)
	if status, code := give(other, "V-0002"); status != http.StatusConflict || code != "proxy-deadline" {
		t.Errorf("a proxy given once the moved opening has passed: %d %s, want 409 proxy-deadline", status, code)
	}
	if status, _ := grantor.call(http.MethodDelete, "/api/v1/proxy", nil, nil); status != http.StatusConflict {
		t.Errorf("a proxy withdrawn once the moved opening has passed: %d, want 409", status)
	}
}
