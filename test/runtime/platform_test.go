package runtime

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestOpsPortSeparateFromVoters: the controller's API, readiness and metrics (live
// turnout and sign-in statistics, each scrape a query of the store) are served on
// the operations port alone. The voters' port, which the ingress exposes whole,
// answers 404 for each of them, the control API even with the right token, while
// the operations port serves them; /healthz answers on both.
func TestOpsPortSeparateFromVoters(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "data", "election.db"),
		"--smtp", smtp.Addr(), "--control-token-file", filepath.Join(dir, "control-token"))
	token := runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))

	get := func(url string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, p := range []struct {
		path string
		auth bool
		want string // in the operations port's answer
	}{
		{"/metrics", false, "scrutin_runtime_inflight_requests"},
		{"/readyz", false, ""},
		{"/control/v1/status", true, `"ballotsCast"`},
		{"/control/v1/results", true, ""},
	} {
		for _, auth := range []bool{false, true} {
			if code, body := get(rt.URL+p.path, auth); code != http.StatusNotFound || strings.Contains(body, "ballotsCast") || strings.Contains(body, "scrutin_") {
				t.Errorf("voters' port %s (token: %v): HTTP %d, want 404\n%.300s", p.path, auth, code, body)
			}
		}
		code, body := get(rt.OpsURL+p.path, p.auth)
		if p.path == "/control/v1/results" {
			if code != http.StatusConflict { // served: not tallied while the vote is open
				t.Errorf("operations port %s: HTTP %d, want 409 (not tallied yet)\n%.300s", p.path, code, body)
			}
			continue
		}
		if code != http.StatusOK || !strings.Contains(body, p.want) {
			t.Errorf("operations port %s: HTTP %d, want 200 with %q\n%.300s", p.path, code, p.want, body)
		}
	}
	if code, _ := get(rt.OpsURL+"/control/v1/status", false); code != http.StatusUnauthorized {
		t.Errorf("operations port /control/v1/status without the token: HTTP %d, want 401", code)
	}
	for _, base := range []string{rt.URL, rt.OpsURL} {
		if code, _ := get(base+"/healthz", false); code != http.StatusOK {
			t.Errorf("%s/healthz: HTTP %d", base, code)
		}
	}
	// the voters' pages are not on the operations port
	if code, _ := get(rt.OpsURL+"/sign-in", false); code != http.StatusNotFound {
		t.Errorf("operations port /sign-in: HTTP %d, want 404", code)
	}
}
