package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/server"
)

var credentialRe = regexp.MustCompile(`Belenios signing credential: ([1-9A-HJ-NP-Za-km-z]{3}(?:-[1-9A-HJ-NP-Za-km-z]{3}){4})`)

// letterCredential waits for the credential letter sent to email at import
// and returns its Belenios credential (a secret: no page may show it).
func (f *fixture) letterCredential(t *testing.T, email string) string {
	t.Helper()
	m, err := f.smtp.WaitFor(email, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := credentialRe.FindStringSubmatch(m.Body)
	if c == nil {
		t.Fatalf("no Belenios credential in the letter %q", m.Body)
	}
	f.secret(c[1])
	return c[1]
}

// verifiableVoter is a signed-in voter of the verifiable fixture, with the
// credential of their letter.
type verifiableVoter struct {
	c          *client
	id         string
	credential string
}

// openVerifiable opens the fixture's verifiable vote and signs in V-1 and V-2.
func openVerifiable(t *testing.T, f *fixture) (v1, v2 verifiableVoter) {
	t.Helper()
	cred1, cred2 := f.letterCredential(t, "camille@example.org"), f.letterCredential(t, "jean@example.org")
	f.clock.Add(time.Hour)
	if err := f.en.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	v1 = verifiableVoter{c: f.client(t), id: "V-1", credential: cred1}
	v1.c.follow(v1.c.signIn("V-1", "camille@example.org", "")).want(t, http.StatusOK, "ballot-verifiable")
	v2 = verifiableVoter{c: f.client(t), id: "V-2", credential: cred2}
	v2.c.follow(v2.c.signIn("V-2", "jean@example.org", "")).want(t, http.StatusOK, "ballot-verifiable")
	return v1, v2
}

// castBelenios makes a ballot with the Go client, as a voter's device would,
// and casts it through the JSON API with the voter's session; it returns the
// tracker the server answered.
func (vv verifiableVoter) castBelenios(t *testing.T, choices belenios.Plaintext) string {
	t.Helper()
	p := vv.c.get("/api/v1/election.json")
	if p.status != http.StatusOK {
		t.Fatalf("election.json: %d %s", p.status, p.body)
	}
	rec, err := belenios.ParseElection([]byte(p.body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := belenios.NewBallot(rec, vv.credential, choices)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"belenios": string(b)})
	req, _ := http.NewRequest("POST", vv.c.f.srv.URL+"/api/v1/ballot", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(vv.c.jar[server.SessionCookie])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Tracker string }
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil || out.Tracker != belenios.Tracker(b) {
		t.Fatalf("cast: %d %s; want 201 with tracker %s", res.StatusCode, raw, belenios.Tracker(b))
	}
	return out.Tracker
}

// TestVerifiableBallotPageEncryptsOnTheDevice: in the verifiable mode the
// ballot page carries the signed-in voter's public credential (for the device
// to check the credential typed in) and the two scripts that encrypt; no form
// of it can send the choices or the credential (the credential's field has no
// name); without JavaScript it says, in French and in English, how else to
// vote, with the command-line client's real flags.
func TestVerifiableBallotPageEncryptsOnTheDevice(t *testing.T) {
	f := newFixture(t, fixtureOptions{verifiable: true})
	v1, _ := openVerifiable(t, f)
	pub, err := f.en.PublicCredential(context.Background(), "V-1")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(f.srv.URL, "http://")
	fr := v1.c.get("/ballot").want(t, http.StatusOK, "ballot-verifiable")
	fr.has(t, `data-public-credential="`+pub+`"`, `/static/belenios.js?v=`, `/static/verifiable.js?v=`,
		"Cette page ne peut pas chiffrer votre bulletin ici", "activer JavaScript", "un autre appareil",
		`kubectl scrutin vote --url http://`+host+` --voter-id V-1`, `id="vb-credential"`, `aria-live="polite"`).
		hasNot(t, "Vous avez déjà voté")
	en := v1.c.get("/ballot", "Accept-Language", "en").want(t, http.StatusOK, "ballot-verifiable")
	en.has(t, "This page cannot encrypt your ballot here", "turn JavaScript on", "another device",
		`kubectl scrutin vote --url http://`+host+` --voter-id V-1`)
	for _, p := range []page{fr, en} {
		if n := strings.Count(p.body, "<form"); n != 1 || !strings.Contains(p.body, `<form id="signout-form"`) {
			t.Errorf("the verifiable ballot page has %d forms; want only the sign-out form", n)
		}
		cred := regexp.MustCompile(`<input[^>]*id="vb-credential"[^>]*>`).FindString(p.body)
		if cred == "" || strings.Contains(cred, "name=") {
			t.Errorf("the credential's field %q has a name (or is missing)", cred)
		}
		// the choices are there to be made, outside any form
		p.has(t, `id="q_chair_alice"`, `id="q_council__blank"`, `data-allow-blank="true"`, `data-err-many="`)
	}
	if strings.Contains(fr.body, `data-public-credential="`+mustPub(t, f, "V-2")+`"`) {
		t.Error("V-1's page carries V-2's public credential")
	}
}

func mustPub(t *testing.T, f *fixture, id string) string {
	t.Helper()
	pub, err := f.en.PublicCredential(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestVerifiablePlainAnswersRefused: plain choices posted in the verifiable
// mode are refused (422, the verifiable page with a notice), and nothing is
// cast.
func TestVerifiablePlainAnswersRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{verifiable: true})
	v1, _ := openVerifiable(t, f)
	form := url.Values{"q_chair": {"alice"}, "q_council": {"_blank"}}
	v1.c.post("/ballot", form).want(t, http.StatusUnprocessableEntity, "ballot-verifiable").
		has(t, "Vos choix n’ont pas été enregistrés", "kubectl scrutin vote").hasNot(t, `data-page="review"`)
	v1.c.post("/ballot/confirm", url.Values{"draft": {"x"}}).want(t, http.StatusOK, "ballot-verifiable")
	if voted, err := f.en.HasVoted(context.Background(), "V-1"); err != nil || voted {
		t.Fatalf("after plain choices in the verifiable mode, the voter has voted: %v %v", voted, err)
	}
	if trs, err := f.en.BoardTrackers(context.Background()); err != nil || len(trs) != 0 {
		t.Fatalf("board after plain choices: %v %v; want empty", trs, err)
	}
}

// TestVerifiableRevoteNotice: a voter who has voted gets the verifiable ballot
// page again, saying that a new ballot replaces the earlier one.
func TestVerifiableRevoteNotice(t *testing.T) {
	f := newFixture(t, fixtureOptions{verifiable: true})
	v1, _ := openVerifiable(t, f)
	v1.castBelenios(t, belenios.Plaintext{{0, 1, 0}, {0, 1, 1, 0}})
	v1.c.get("/ballot").want(t, http.StatusOK, "ballot-verifiable").
		has(t, "Vous avez déjà voté", "seul votre dernier bulletin compte", `id="vb-credential"`)
	v1.c.get("/ballot", "Accept-Language", "en").want(t, http.StatusOK, "ballot-verifiable").
		has(t, "You have already voted", "only your last ballot counts")
}

var boardItemRe = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)

// TestVerifiableBoardLive: the board is live from the opening (before it, it
// says when it opens): every ballot's tracker in arrival order, a re-vote's
// too, numbered from 1, with the count; a search by the whole tracker says
// its number and that only the last ballot counts, by a prefix of 10
// characters lists the matches, and a query that is no tracker gets a field
// error; the page links to the archive and to the check page.
func TestVerifiableBoardLive(t *testing.T) {
	f := newFixture(t, fixtureOptions{verifiable: true})
	anon := f.client(t)
	anon.get("/board").want(t, http.StatusConflict, "board-not-yet").has(t, "à partir de l’ouverture du scrutin")
	v1, v2 := openVerifiable(t, f)
	anon.get("/board").want(t, http.StatusOK, "board").has(t, "Aucun bulletin n’a encore été déposé", "0 bulletin est sur le tableau")
	want := []string{
		v1.castBelenios(t, belenios.Plaintext{{0, 1, 0}, {0, 1, 1, 0}}),
		v2.castBelenios(t, belenios.Plaintext{{1, 0, 0}, {1, 0, 0, 0}}),
		v1.castBelenios(t, belenios.Plaintext{{0, 0, 1}, {0, 0, 1, 1}}),
	}
	p := anon.get("/board", "Accept-Language", "en").want(t, http.StatusOK, "board")
	p.has(t, "3 ballots are on the board", `<ol class="trackers" id="tracker-list" start="1">`,
		`href="/api/v1/board.bel"`, `href="/board/check"`)
	var got []string
	for _, m := range boardItemRe.FindAllStringSubmatch(p.body, -1) {
		got = append(got, html.UnescapeString(m[1]))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("board lists %v; want %v in arrival order", got, want)
	}
	anon.get("/board?tracker="+url.QueryEscape(want[2]), "Accept-Language", "en").want(t, http.StatusOK, "board").
		has(t, "this is ballot number 3 on the board", "only your last ballot counts")
	found := anon.get("/board?tracker="+url.QueryEscape(want[1][:10])).want(t, http.StatusOK, "board").has(t, "bulletin numéro 2")
	if !strings.Contains(html.UnescapeString(found.body), "<code>"+want[1]+"</code> — bulletin numéro 2") {
		t.Errorf("a search by the first 10 characters of %s does not list it", want[1])
	}
	anon.get("/board?tracker="+url.QueryEscape(want[0][:9]), "Accept-Language", "en").want(t, http.StatusOK, "board").
		has(t, "A tracker is 43 characters long", `aria-invalid="true"`)
	anon.get("/board?tracker=not-a-tracker!", "Accept-Language", "en").want(t, http.StatusOK, "board").
		has(t, "A tracker is 43 characters long")
	other := strings.Repeat("A", 43)
	anon.get("/board?tracker="+other, "Accept-Language", "en").want(t, http.StatusOK, "board").
		has(t, "Not found: this tracker is not on the board.")
}

// TestBoardCheckPage: /board/check says what a tracker proves and how to check
// the vote with belenios-tool, in French and in English; it is not there in
// the plain mode.
func TestBoardCheckPage(t *testing.T) {
	f := newFixture(t, fixtureOptions{verifiable: true})
	c := f.client(t)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	c.get("/board/check").want(t, http.StatusOK, "board-check").
		has(t, "Ce que prouve votre code de suivi", "sudo apt-get install belenios-tool", "curl -O http://"+host+"/api/v1/board.bel",
			"belenios-tool election verify --dir .", "I: all checks passed", "belenios-tool election verify-diff --dir1 board --dir2 board-later")
	c.get("/board/check", "Accept-Language", "en").want(t, http.StatusOK, "board-check").
		has(t, "What your tracker proves", "it cannot prove how you voted", "Check that the board only grew")
	plain := newFixture(t, fixtureOptions{})
	plain.client(t).get("/board/check").want(t, http.StatusNotFound, "not-found")

	// with a public URL (the letters' one), the command names it, not the Host the
	// request came with
	routed := newFixture(t, fixtureOptions{verifiable: true, publicURL: "https://board.tenant.vote.example/"})
	page := routed.client(t).get("/board/check", "Host", "evil.example").want(t, http.StatusOK, "board-check")
	page.has(t, "curl -O https://board.tenant.vote.example/api/v1/board.bel")
	if strings.Contains(page.body, "evil.example") {
		t.Errorf("the check page names the request's Host:\n%s", page.body)
	}
}

var codeBlockRe = regexp.MustCompile(`(?s)<code id="(cmd-[a-z]+)">(.*?)</code>`)

// TestBoardCheckPageCommandsRun runs the check page's own commands (all but
// installing belenios-tool, which is installed) against a board of a test
// election: the download and `belenios-tool election verify` print "I: all
// checks passed", and once more ballots are cast, the later board passes
// `belenios-tool election verify-diff` against the earlier one.
func TestBoardCheckPageCommandsRun(t *testing.T) {
	if _, err := exec.LookPath("belenios-tool"); err != nil {
		t.Skip("belenios-tool is not installed (apt-get install -y belenios-tool)")
	}
	f := newFixture(t, fixtureOptions{verifiable: true})
	v1, v2 := openVerifiable(t, f)
	v1.castBelenios(t, belenios.Plaintext{{0, 1, 0}, {0, 1, 1, 0}})
	v2.castBelenios(t, belenios.Plaintext{{1, 0, 0}, {1, 0, 0, 0}})
	cmds := map[string]string{}
	for _, m := range codeBlockRe.FindAllStringSubmatch(f.client(t).get("/board/check").want(t, http.StatusOK, "board-check").body, -1) {
		cmds[m[1]] = html.UnescapeString(m[2])
	}
	if !strings.HasPrefix(cmds["cmd-install"], "sudo apt-get install belenios-tool") || cmds["cmd-download"] == "" || cmds["cmd-verify"] == "" || cmds["cmd-diff"] == "" {
		t.Fatalf("the check page's commands: %q", cmds)
	}
	dir := t.TempDir()
	run := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euc", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	out := run(cmds["cmd-download"] + "\n" + cmds["cmd-verify"])
	if !strings.Contains(out, "I: all checks passed") {
		t.Errorf("belenios-tool election verify said:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "board", "board.bel")); err != nil {
		t.Fatalf("the download did not write board/board.bel: %v", err)
	}
	v1.castBelenios(t, belenios.Plaintext{{0, 0, 1}, {0, 0, 1, 1}})
	// the diff's commands start in the folder of the first download
	cmd := exec.Command("bash", "-euc", cmds["cmd-diff"])
	cmd.Dir = filepath.Join(dir, "board")
	diff, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmds["cmd-diff"], err, diff)
	}
	t.Logf("verify-diff said: %q", diff)
	later, err := os.ReadFile(filepath.Join(dir, "board-later", "board.bel"))
	if err != nil {
		t.Fatal(err)
	}
	earlier, _ := os.ReadFile(filepath.Join(dir, "board", "board.bel"))
	if len(later) <= len(earlier) {
		t.Errorf("the later board (%d bytes) is not longer than the earlier (%d)", len(later), len(earlier))
	}
}
