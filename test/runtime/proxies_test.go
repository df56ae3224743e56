package runtime

import (
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
