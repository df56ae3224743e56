package runtime

// Abuses of the lockout itself: a mass lockout from one address, no way
// to unlock, and "it still works" said of a code that no longer does; against the
// real runtime binary.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// abusePostFrom posts body as JSON to the voters' port, from client address from
// (the X-Forwarded-For the runtime is told to trust).
func abusePostFrom(t *testing.T, rt *runtimetest.Instance, from, path string, body any) lockoutAnswer {
	t.Helper()
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, rt.URL+path, strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := lockoutAnswer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	_ = json.Unmarshal(raw, &a)
	return a
}

// TestMassLockoutNeedsManyAddresses: "anyone can keep the whole roll
// locked out": from one address, 30 wrong codes in all (six voters locked out);
// the 31st, for a seventh voter, is refused (429, Retry-After) without being
// checked or counted against that voter; another address (an IPv6 /64) is served.
func TestMassLockoutNeedsManyAddresses(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 8), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
		"--client-ip-header", "X-Forwarded-For", "--control-token-file", filepath.Join(dir, "control-token"))
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))
	const attacker, other = "203.0.113.9", "2001:db8:1:2::5"
	codes := map[int]string{}
	for i := 1; i <= 7; i++ {
		if got := abusePostFrom(t, rt, attacker, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(i)}); got.Status != http.StatusAccepted {
			t.Fatalf("sign-in of voter %d: %d %q", i, got.Status, got.Error)
		}
		m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		codes[i] = sink.CodeIn(m.Body)
	}
	try := func(from string, i, n int) lockoutAnswer {
		return abusePostFrom(t, rt, from, "/api/v1/sign-in/code",
			map[string]string{"voterId": runtimetest.VoterID(i), "code": lockoutWrongCode(codes[i], n)})
	}
	for i := 1; i <= 6; i++ {
		for n := range 5 {
			if got := try(attacker, i, n); got.Status != http.StatusUnauthorized && got.Error != "locked-out" {
				t.Fatalf("wrong code %d for voter %d from one address: %d %q", n+1, i, got.Status, got.Error)
			}
		}
	}
	got := try(attacker, 7, 0)
	if got.Status != http.StatusTooManyRequests || got.Error != "rate-limited" || got.RetryAfter == "" || !strings.Contains(got.Message, "your network") {
		t.Fatalf("the 31st wrong code from one address: %d %q %q (Retry-After %q); want 429 rate-limited, naming the network",
			got.Status, got.Error, got.Message, got.RetryAfter)
	}
	if st, _, body := lockoutReadVoter(t, rt, token, runtimetest.VoterID(7)); st.Failures != 0 || st.Locked {
		t.Errorf("voter 7 after the refused try: %s; want no failure counted", body)
	}
	if got := try(other, 7, 1); got.Status != http.StatusUnauthorized || got.AttemptsLeft == nil || *got.AttemptsLeft != 4 {
		t.Errorf("a wrong code from another address: %d %q; want it checked (401, 4 attempts left)", got.Status, got.Error)
	}
	if got := abusePostFrom(t, rt, other, "/api/v1/sign-in/code",
		map[string]string{"voterId": runtimetest.VoterID(7), "code": codes[7]}); got.Status != http.StatusOK {
		t.Errorf("voter 7's right code from another address: %d %q", got.Status, got.Error)
	}
	_, metrics := controlRaw(t, rt.OpsURL, "", http.MethodGet, "/metrics", nil)
	if !strings.Contains(metrics, `scrutin_signins_total{result="address-limited"} 1`) {
		t.Errorf("metrics lack address-limited 1:\n%s", grepLines(metrics, "scrutin_signins_total"))
	}
}

// TestHotlineUnlocksAVoterLockedOutBySomeoneElse: "nobody can unlock
// it": POST /control/v1/voters/{id}/unlock (operations port, control token) ends
// the lockout at once; it is logged without a secret and counted; the voters' port
// does not serve it.
func TestHotlineUnlocksAVoterLockedOutBySomeoneElse(t *testing.T) {
	t.Parallel() // it waits out a real cooldown (61 s): the other waiting tests wait alongside
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"))
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))
	m := lockoutMailedCode(t, rt.URL, smtp, 1)
	code := sink.CodeIn(m.Body)
	for n := range 5 {
		lockoutTryCode(t, rt.URL, 1, lockoutWrongCode(code, n))
	}
	if got := lockoutAskCode(t, rt.URL, 1); got.Error != "locked-out" {
		t.Fatalf("after five wrong codes: %d %q; want locked-out", got.Status, got.Error)
	}
	unlock := func(base, tok, id string) (int, string) {
		return controlRaw(t, base, tok, http.MethodPost, "/control/v1/voters/"+id+"/unlock", nil)
	}
	if s, _ := unlock(rt.OpsURL, "", runtimetest.VoterID(1)); s != http.StatusUnauthorized {
		t.Errorf("unlock without the token: %d, want 401", s)
	}
	if s, _ := unlock(rt.URL, token, runtimetest.VoterID(1)); s == http.StatusOK {
		t.Errorf("the voters' port serves the unlock")
	}
	if s, body := unlock(rt.OpsURL, token, "V-9999"); s != http.StatusNotFound || !strings.Contains(body, "unknown-voter") {
		t.Errorf("unlock of an id not on the roll: %d %s", s, body)
	}
	s, body := unlock(rt.OpsURL, token, runtimetest.VoterID(1))
	var st lockoutVoterState
	if err := json.Unmarshal([]byte(body), &st); s != http.StatusOK || err != nil || st.Locked || st.Lockouts != 0 || st.Failures != 0 {
		t.Fatalf("unlock: %d %s; want 200 and the voter unlocked", s, body)
	}
	// The voter's sign-in works again (the resend cooldown of a minute first).
	time.Sleep(time.Until(m.ReceivedAt.Add(61 * time.Second)))
	if got := lockoutAskCode(t, rt.URL, 1); got.Status != http.StatusAccepted {
		t.Fatalf("a sign-in after the unlock: %d %q", got.Status, got.Error)
	}
	_, metrics := controlRaw(t, rt.OpsURL, "", http.MethodGet, "/metrics", nil)
	if !strings.Contains(metrics, "scrutin_voter_unlocks_total 1") {
		t.Errorf("metrics lack scrutin_voter_unlocks_total 1:\n%s", grepLines(metrics, "unlock"))
	}
	logs := rt.Logs.String()
	if !strings.Contains(logs, "unlocked through the control API") {
		t.Errorf("no log line for the unlock")
	}
	for _, enc := range encodings(code) {
		if sink.Contains(logs, enc) {
			t.Errorf("the logs hold the code")
		}
	}
}

// TestResendAfterSignInIsNotToldTheCodeStillWorks: a voter who signs
// in, then asks for a code again within the cooldown, is sent one (the last one no
// longer works), never told "a code was just sent, and it still works".
func TestResendAfterSignInIsNotToldTheCodeStillWorks(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr())
	m := lockoutMailedCode(t, rt.URL, smtp, 1)
	if got := lockoutTryCode(t, rt.URL, 1, sink.CodeIn(m.Body)); got.Status != http.StatusOK {
		t.Fatalf("the code: %d %q", got.Status, got.Error)
	}
	got := lockoutAskCode(t, rt.URL, 1)
	if got.Status != http.StatusAccepted {
		t.Fatalf("asking again after signing in, within the cooldown: %d %q %q; want 202, a new code (the last one no longer works)",
			got.Status, got.Error, got.Message)
	}
}

// grepLines are the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}
