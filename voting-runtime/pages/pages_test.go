package pages

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/server"
)

// A ballot that answers the three kinds, one of them blank.
var goodBallot = url.Values{
	"q_chair":      {"alice"},
	"q_council":    {"_blank"},
	"r_motions_m2": {"1"},
	"r_motions_m1": {"2"},
	"r_motions_m3": {""},
}

var trackerRe = regexp.MustCompile(`<code id="tracker">([0-9a-f]{64})</code>`)

func TestFullJourney(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour) // open
	c := f.client(t)

	home := c.get("/").want(t, 200, "signin")
	home.has(t, `<html lang="fr">`, `<label for="voter_id">`, `id="signin-form"`, `action="/sign-in"`)

	codePage := c.post("/sign-in", url.Values{"voter_id": {" V-1 "}}).want(t, 200, "code")
	codePage.has(t, "c•••@example.org", "10 minutes", `id="resend-form"`, `data-seconds="60"`,
		"Vous pourrez demander un nouveau code dans 60 secondes", `autocomplete="one-time-code"`)
	code := f.waitCode(t, "camille@example.org")
	form := codePage.hidden(t, "code-form")
	form.Set("code", code[:3]+" "+code[3:]) // as people copy it
	signedIn := c.post("/sign-in/code", form)
	if signedIn.status != http.StatusSeeOther || signedIn.header.Get("Location") != "/ballot" {
		t.Fatalf("after the code: %d %s", signedIn.status, signedIn.header.Get("Location"))
	}
	ck := c.jar[server.SessionCookie]
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
		t.Fatalf("session cookie: %+v", ck)
	}

	b := c.follow(signedIn).want(t, 200, "ballot")
	b.has(t,
		`<fieldset class="question" id="fs_chair"`, `<legend id="legend_chair">`,
		`<input type="radio" id="q_chair_alice" name="q_chair" value="alice">`,
		`<input type="radio" id="q_chair__blank" name="q_chair" value="_blank" data-blank>`,
		`<input type="checkbox" id="q_council_carla" name="q_council" value="carla">`,
		`<input type="checkbox" id="q_council__blank" name="q_council" value="_blank" data-blank>`,
		"Choisissez entre 1 et 2 options.",
		`<select id="r_motions_m1" name="r_motions_m1">`, `<option value="">– (non classé)</option>`, `<option value="3">3e choix</option>`,
		"Classez entre 1 et 3 options par ordre de préférence.",
		`id="session-status"`, `data-remaining="1200"`, `data-warn="300"`, `<time id="session-expiry" datetime="2030-05-01T08:20:00Z" data-local-clock>10 h 20</time>`,
		`form="ballot-form" formaction="/session/extend"`)
	b.hasNot(t, `id="q_motions__blank"`) // no blank vote where the question has none

	review := c.post("/ballot", goodBallot).want(t, 200, "review")
	review.has(t, `<p class="answer" id="answer_chair">Votre choix : <strong>Alice Lefèvre</strong></p>`,
		`<p class="answer" id="answer_council"><strong>Vote blanc</strong></p>`,
		`<ol class="answer" id="answer_motions"><li><strong>Motion two</strong></li><li><strong>Motion one</strong></li></ol>`,
		`id="confirm-button"`, `id="change-button" formaction="/ballot/change"`)
	draft := review.hidden(t, "review-form")

	// Change: back to the ballot, the selections kept.
	back := c.post("/ballot/change", draft).want(t, 200, "ballot")
	back.has(t, `value="alice" checked>`, `id="q_council__blank" name="q_council" value="_blank" data-blank checked>`,
		`<option value="1" selected>1er choix</option>`, `<option value="2" selected>2e choix</option>`)

	receipt := c.post("/ballot/confirm", draft).want(t, 200, "receipt")
	receipt.has(t, "Votre vote est enregistré", `id="short-tracker"`, `id="board-link"`)
	m := trackerRe.FindStringSubmatch(receipt.body)
	if m == nil {
		t.Fatalf("no tracker:\n%s", receipt.body)
	}
	receipt.has(t, `<p class="tracker-short" id="short-tracker">`+ballot.ShortTracker(m[1])+`</p>`,
		`form="receipt-form" formaction="/receipt?lang=en"`)
	// The language switch shows the receipt again, in English.
	c.post("/receipt?lang=en", url.Values{"tracker": {m[1]}, "rerender": {"receipt"}}).want(t, 200, "receipt").
		has(t, "Your vote is recorded", m[1])
	c.post("/receipt", url.Values{"tracker": {"forged"}}).want(t, http.StatusSeeOther, "")
	c.get("/?lang=fr").want(t, http.StatusSeeOther, "")
	if voted, _ := f.en.HasVoted(context.Background(), "V-1"); !voted {
		t.Fatal("V-1 has not voted")
	}

	// Confirming again (a reload) casts nothing.
	c.post("/ballot/confirm", draft).want(t, http.StatusConflict, "already-voted")
	c.get("/ballot").want(t, http.StatusConflict, "already-voted")
	c.get("/").want(t, http.StatusSeeOther, "")

	// After the close: the tracker is on the board, the ballot in the results.
	f.clock.Add(10 * time.Hour)
	if err := f.en.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.get("/board?tracker="+url.QueryEscape(ballot.ShortTracker(m[1]))).want(t, 200, "board").
		has(t, `data-found="true"`, "<code>"+m[1]+"</code>")
	c.get("/board?tracker="+m[1]).want(t, 200, "board").has(t, `data-found="true"`)
	res := c.get("/results").want(t, 200, "results")
	res.has(t, `<tr id="row_chair_alice"><th scope="row">Alice Lefèvre <span class="tag">(gagnante)</span></th><td class="num">1</td></tr>`,
		`<td class="num" id="blank_council">1</td>`, `<ol class="ranking" id="ranking_motions"><li>Motion two</li>`)
}

func TestEveryKindAndBlankAreValidated(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.follow(c.signIn("V-2", "jean@example.org", ""))
	bad := url.Values{
		"q_council":    {"carla", "dan", "eve"},      // more than 2
		"r_motions_m1": {"1"}, "r_motions_m2": {"1"}, // the same rank twice
	}
	p := c.post("/ballot", bad).want(t, http.StatusUnprocessableEntity, "ballot")
	p.has(t, `<div class="error-summary" id="error-summary" role="alert"`,
		`<a href="#q_chair_alice">Question 1 : Vous n’avez pas répondu à cette question : choisissez une option, ou « Vote blanc ».</a>`,
		`<a href="#q_council_carla">Question 2 : Choisissez au plus 2 options.</a>`,
		`<a href="#r_motions_m1">Question 3 : Le même rang (1) est donné à plus d’une option`,
		`aria-describedby="hint_council err_council"`, `<p class="field-error" id="err_council"><strong>Erreur :</strong>`,
		`<title>Erreur : Votre bulletin — Congrès 2030</title>`,
		`value="carla" checked>`, `value="eve" checked>`)
	// Blank and a choice at once; a ranked question that does not allow blank.
	p = c.post("/ballot", url.Values{"q_chair": {"bob"}, "q_council": {"_blank", "dan"}, "r_motions_m3": {"1"}}).
		want(t, http.StatusUnprocessableEntity, "ballot")
	p.has(t, "Vous avez choisi « Vote blanc » et aussi une option").hasNot(t, "#q_chair_alice", "#r_motions_m1")
	if voted, _ := f.en.HasVoted(context.Background(), "V-2"); voted {
		t.Fatal("an invalid ballot was cast")
	}
}

func TestErrorPages(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	c := f.client(t)

	// Not open yet: the opening time in UTC and in Paris, for the script to localise.
	p := c.get("/").want(t, http.StatusConflict, "not-open")
	p.has(t, `<time id="opens-at" datetime="2030-05-01T08:00:00Z" data-local>mercredi 1 mai 2030 à 10 h 00 (heure de Paris)</time>`,
		`<span class="utc" id="opens-at-utc">(mercredi 1 mai 2030 à 8 h 00 UTC)</span>`)
	f.clock.Add(time.Hour)

	p = c.post("/sign-in", url.Values{"voter_id": {"V-404"}}).want(t, http.StatusNotFound, "unknown-voter")
	p.has(t, "Vérifiez la lettre ou le courriel reçu de Parti des Exemples",
		`aria-describedby="voter_id-hint voter_id-error" aria-invalid="true"`, `value="V-404"`, `<a href="#voter_id">`)
	c.post("/sign-in", url.Values{"voter_id": {""}}).want(t, http.StatusUnprocessableEntity, "signin")

	codePage := c.post("/sign-in", url.Values{"voter_id": {"V-3"}}).want(t, 200, "code")
	code := f.waitCode(t, "amina@example.org")
	form := codePage.hidden(t, "code-form")

	// Resend too soon: 429, Retry-After, the remaining wait in words.
	f.clock.Add(20 * time.Second)
	p = c.post("/sign-in/resend", codePage.hidden(t, "resend-form")).want(t, http.StatusTooManyRequests, "code")
	if p.header.Get("Retry-After") != "40" {
		t.Errorf("Retry-After %q", p.header.Get("Retry-After"))
	}
	p.has(t, "Vous pourrez demander un nouveau code dans 40 secondes", "a•••@example.org", `data-seconds="40"`)

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	form.Set("code", wrong)
	p = c.post("/sign-in/code", form).want(t, http.StatusUnauthorized, "code")
	p.has(t, "Il vous reste 4 essais", `aria-describedby="code-hint code-error" aria-invalid="true"`,
		`<p class="field-error" id="code-error">`, `<a href="#code">`)
	form.Set("code", "")
	c.post("/sign-in/code", form).want(t, http.StatusUnprocessableEntity, "code").has(t, "Saisissez le code reçu.")
	form.Set("code", wrong)
	for i := 0; i < 3; i++ {
		c.post("/sign-in/code", form).want(t, http.StatusUnauthorized, "code")
	}
	p = c.post("/sign-in/code", form).want(t, http.StatusTooManyRequests, "too-many-attempts")
	p.has(t, `id="newcode-form"`, `name="voter_id" value="V-3"`, "M’envoyer un nouveau code",
		"vous pourrez réessayer à 10 h 01, dans 1 minute")
	if p.header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After %q after the lockout", p.header.Get("Retry-After"))
	}
	// A new sign-in during the lockout sends nothing and says until when.
	c.post("/sign-in", url.Values{"voter_id": {"V-3"}}).want(t, http.StatusTooManyRequests, "signin").
		has(t, "Trop de codes erronés ont été saisis pour cet identifiant", "vous pourrez réessayer à 10 h 01")
	f.clock.Add(time.Minute)

	// The code expired.
	codePage = c.post("/sign-in", url.Values{"voter_id": {"V-3"}}).want(t, 200, "code")
	code = f.waitCode(t, "amina@example.org")
	f.clock.Add(16 * time.Minute)
	form = codePage.hidden(t, "code-form")
	form.Set("code", code)
	c.post("/sign-in/code", form).want(t, http.StatusGone, "code-expired").has(t, `id="newcode-button"`)

	// The session expired.
	c.follow(c.signIn("V-3", "amina@example.org", "")).want(t, 200, "ballot")
	f.clock.Add(21 * time.Minute)
	c.get("/ballot").want(t, http.StatusUnauthorized, "session-expired")
	if _, ok := c.jar[server.SessionCookie]; ok {
		t.Error("the dead session's cookie was kept")
	}

	c.get("/no/such/page").want(t, http.StatusNotFound, "not-found")
	c.get("/board").want(t, http.StatusConflict, "board-not-yet")
	c.get("/results").want(t, http.StatusConflict, "results-not-yet")

	// Closed.
	f.clock.Add(10 * time.Hour)
	c.get("/").want(t, http.StatusConflict, "closed").has(t, `href="/results"`, `href="/board"`)
	c.post("/sign-in", url.Values{"voter_id": {"V-1"}}).want(t, http.StatusConflict, "closed")
	p = c.get("/results").want(t, http.StatusConflict, "results-not-yet")
	p.has(t, `<meta http-equiv="refresh" content="30">`)
}

func TestDeliveryBusyWaitPage(t *testing.T) {
	f := newFixture(t, fixtureOptions{backlog: 1})
	f.clock.Add(time.Hour)
	// An outbox that holds one queued code, and holds one: the mail server
	// refuses it for now, so it waits to be retried; every other code request is
	// refused as busy.
	f.smtp.SetFailFirst(1000)
	if _, err := f.en.StartSignIn(context.Background(), "V-2"); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	p := c.post("/sign-in", url.Values{"voter_id": {"V-1"}, "draft": {"sealed-choices"}}).want(t, http.StatusServiceUnavailable, "wait")
	if p.header.Get("Retry-After") != "5" {
		t.Errorf("Retry-After %q", p.header.Get("Retry-After"))
	}
	// Back to the sign-in page, the voter id typed: no form sent again, nothing
	// else of it written back.
	p.has(t, `<noscript><meta http-equiv="refresh" content="5; url=/sign-in?voter_id=V-1"></noscript>`,
		"Vous ne perdez ni votre place ni votre session", `id="retry-link" href="/sign-in?voter_id=V-1"`, `id="wait-not-sent"`).
		hasNot(t, `<form id="retry-form"`, "sealed-choices", `type="hidden"`)
	// Where the meta refresh leads without JavaScript: the voter id already typed.
	c.get("/sign-in?voter_id=V-1").want(t, 200, "signin").has(t, `value="V-1"`)
}

func TestWaitPage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	rec := httptestRecorder(t, f, "GET", "/ballot", nil, func(w http.ResponseWriter, r *http.Request) { f.pages.WaitPage(w, r, 7) })
	if rec.status != 503 || rec.header.Get("Retry-After") != "7" || rec.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("wait page: %d %v", rec.status, rec.header)
	}
	// Without JavaScript the meta refresh retries; with it, the script's visible
	// countdown does (a bare meta refresh fails WCAG 2.2.1, axe's meta-refresh).
	rec.has(t, `<noscript><meta http-equiv="refresh" content="7; url=/ballot"></noscript>`, `id="retry-link" href="/ballot"`, "dans 7 secondes").
		hasNot(t, `id="wait-not-sent"`)
	checkHeaders(t, rec.header, false)
}

// TestWaitPageNeverSendsAFormAgain: a form turned away under load (here one that
// another site made a browser send, the attack that cast the attacker's choices as
// the voter's ballot) gets a wait page that neither reads its body nor writes any
// of it back: it goes back, with GET, to the page the form was on.
func TestWaitPageNeverSendsAFormAgain(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for path, back := range map[string]string{"/ballot/confirm": "/ballot", "/ballot": "/ballot", "/sign-in/code": "/sign-in", "/session/extend": "/ballot"} {
		form := url.Values{"q_chair": {"bob"}, "draft": {"attackers-draft"}, "code": {"123456"}, "voter_id": {"V-1"}}
		body := &readCounter{r: strings.NewReader(form.Encode())}
		req := httptest.NewRequest("POST", path, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		f.pages.WaitPage(rec, req, 3)
		p := page{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
		if p.status != 503 || p.header.Get("Retry-After") != "3" {
			t.Fatalf("%s: wait page %d %v", path, p.status, p.header)
		}
		p.has(t, `<noscript><meta http-equiv="refresh" content="3; url=`+back+`"></noscript>`, `id="retry-link" href="`+back+`"`, `id="wait-not-sent"`).
			hasNot(t, "<form", "bob", "attackers-draft", "123456", "V-1")
		if body.n != 0 {
			t.Errorf("%s: the wait page read %d bytes of the body", path, body.n)
		}
	}
}

// readCounter counts the bytes read from r.
type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

func TestSessionExpiryKeepsTheChoices(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.follow(c.signIn("V-2", "jean@example.org", "")).want(t, 200, "ballot")
	review := c.post("/ballot", goodBallot).want(t, 200, "review")
	reviewDraft := review.hidden(t, "review-form")
	draft := reviewDraft.Get("draft")

	// 25 minutes on the review without a word to the server: the session ends.
	// The sealed choices the review page holds are carried to sign in again,
	// and nowhere in clear.
	f.clock.Add(25 * time.Minute)
	p := c.post("/ballot/confirm", reviewDraft).want(t, http.StatusUnauthorized, "session-expired")
	if got := p.hidden(t, "signin-form").Get("draft"); got != draft {
		t.Fatal("the review's sealed choices were not carried")
	}
	// the sealed draft is random text that holds any short string now and
	// then, so it is left out of the search
	clear := p
	clear.body = strings.ReplaceAll(p.body, draft, "")
	clear.has(t, "Vos choix sont conservés").hasNot(t, "Alice", "alice", "m2")

	// A wrong code on the way does not lose them either.
	codePage := c.post("/sign-in", url.Values{"voter_id": {"V-2"}, "draft": {draft}}).want(t, 200, "code")
	code := f.waitCode(t, "jean@example.org")
	form := codePage.hidden(t, "code-form")
	form.Set("code", "99999x")
	form = c.post("/sign-in/code", form).want(t, http.StatusUnauthorized, "code").hidden(t, "code-form")
	form.Set("code", code)
	review = c.post("/sign-in/code", form).want(t, 200, "review")
	review.has(t, "vos choix sont revenus", `id="answer_chair">Votre choix : <strong>Alice Lefèvre</strong>`,
		`<ol class="answer" id="answer_motions"><li><strong>Motion two</strong></li><li><strong>Motion one</strong></li></ol>`)
	receipt := c.post("/ballot/confirm", review.hidden(t, "review-form")).want(t, 200, "receipt")
	if !trackerRe.MatchString(receipt.body) {
		t.Fatal("no tracker")
	}

	// Nothing of the choices is kept on the server, nor in the logs.
	if strings.Contains(f.logs.String(), "alice") || strings.Contains(f.logs.String(), draft) {
		t.Errorf("the logs hold the choices:\n%s", f.logs.String())
	}
}

// TestDraftsSealedOnlyForALiveSessionAndItsVoter: a ballot form sent without a
// live session mints no sealed draft (today anyone could have one sealed, for no
// one in particular, and use it in a forged confirm form); a draft sealed for one
// voter opens for no other voter's session.
func TestDraftsSealedOnlyForALiveSessionAndItsVoter(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	anonymous := f.client(t)
	p := anonymous.post("/ballot", goodBallot).want(t, http.StatusUnauthorized, "session-expired")
	if strings.Contains(p.body, `name="draft"`) {
		t.Fatalf("a ballot form without a session was sealed:\n%s", p.body)
	}
	// A voter whose session has just ended gets nothing sealed either.
	c := f.client(t)
	c.follow(c.signIn("V-2", "jean@example.org", "")).want(t, 200, "ballot")
	f.clock.Add(25 * time.Minute)
	if p := c.post("/ballot", goodBallot).want(t, http.StatusUnauthorized, "session-expired"); strings.Contains(p.body, `name="draft"`) {
		t.Fatal("a ballot form of an ended session was sealed")
	}

	// V-1's draft, in V-2's confirm form: not opened, nothing cast.
	one := f.client(t)
	one.follow(one.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	draft := one.post("/ballot", goodBallot).want(t, 200, "review").hidden(t, "review-form")
	two := f.client(t)
	two.follow(two.signIn("V-2", "jean@example.org", "")).want(t, 200, "ballot")
	two.post("/ballot/confirm", draft).want(t, 200, "ballot").has(t, "Vos choix précédents n’ont pas pu être retrouvés")
	if voted, _ := f.en.HasVoted(context.Background(), "V-2"); voted {
		t.Fatal("another voter's draft was cast")
	}
	// and its own voter still confirms it
	one.post("/ballot/confirm", draft).want(t, 200, "receipt")
}

// TestDraftsBoundToTheirSession: a draft was bound to its
// voter but not to the session that sealed it: any session of the voter opened it.
// It is now bound to both: another live session of the same voter does not open
// it, neither on the review nor by signing in with it while the session that
// sealed it lives; once that session has ended, its voter signing in again gets
// the draft back (the voter whose session ended on the review page confirms).
func TestDraftsBoundToTheirSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	lost := "Vos choix précédents n’ont pas pu être retrouvés"
	one := f.client(t)
	one.follow(one.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	review := one.post("/ballot", goodBallot).want(t, 200, "review").hidden(t, "review-form")
	draft := review.Get("draft")

	// The same voter in another session, both live: the draft is not opened.
	f.clock.Add(2 * time.Minute)
	two := f.client(t)
	two.follow(two.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	two.post("/ballot/confirm", review).want(t, 200, "ballot").has(t, lost)
	two.post("/ballot/change", review).want(t, 200, "ballot").has(t, lost)
	if voted, _ := f.en.HasVoted(context.Background(), "V-1"); voted {
		t.Fatal("another session's draft was cast")
	}
	// Signing in with it while the session that sealed it lives: not opened.
	f.clock.Add(2 * time.Minute)
	three := f.client(t)
	three.signIn("V-1", "camille@example.org", draft).want(t, 200, "ballot").has(t, lost)

	// The session that sealed it ends: its voter signs in again and gets it back.
	one.post("/sign-out", nil).want(t, 200, "signed-out")
	f.clock.Add(2 * time.Minute)
	four := f.client(t)
	restored := four.signIn("V-1", "camille@example.org", draft).want(t, 200, "review").has(t, "vos choix sont revenus")
	four.post("/ballot/confirm", restored.hidden(t, "review-form")).want(t, 200, "receipt")
}

func TestSealedChoicesAcrossReplicas(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	// Another replica: same election, same session key, another process.
	other, err := New(Config{Engine: f.en, SessionKey: testKey, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	fields := url.Values{"q_chair": {"bob"}}
	sealed, err := f.pages.seal.Seal(fields, "V-1", bytes.Repeat([]byte{7}, sessionHashSize), f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "bob") {
		t.Fatal("the seal shows the choice")
	}
	got, _, err := other.seal.Open(sealed, "V-1", f.clock.Now())
	if err != nil || got.Get("q_chair") != "bob" {
		t.Fatalf("another replica opens %v, %v", got, err)
	}
	stranger, err := New(Config{Engine: f.en, SessionKey: []byte(strings.Repeat("x", 32)), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := stranger.seal.Open(sealed, "V-1", f.clock.Now()); err == nil {
		t.Error("a key other than the election's opens the seal")
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	if _, _, err := other.seal.Open(string(tampered), "V-1", f.clock.Now()); err == nil {
		t.Error("a tampered seal opens")
	}
	if _, _, err := other.seal.Open(sealed, "V-1", f.clock.Now().Add(draftMaxAge+time.Minute)); err == nil {
		t.Error("an old seal opens")
	}
	if _, err := New(Config{Engine: f.en, SessionKey: []byte("short")}); err == nil {
		t.Error("a short session key is accepted")
	}
}

func TestExtendSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.follow(c.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	f.clock.Add(17 * time.Minute)

	// The script's way.
	p := c.post("/session/extend", url.Values{"return": {"json"}}, "Accept", "application/json")
	var got extendJSON
	if err := json.Unmarshal([]byte(p.body), &got); err != nil || p.status != 200 || got.RemainingSeconds != 1200 {
		t.Fatalf("extend: %d %s", p.status, p.body)
	}

	// Without JavaScript: the button sends the ballot form; it comes back as it was.
	f.clock.Add(17 * time.Minute)
	form := merge(url.Values{"return": {"ballot"}}, goodBallot)
	p = c.post("/session/extend", form).want(t, 200, "ballot")
	p.has(t, "Vous restez connecté : votre session se termine maintenant à 10 h 54.", `value="alice" checked>`,
		`<option value="1" selected>1er choix</option>`, `data-remaining="1200"`)

	// Too late: the voter signs in again; the ballot's choices are not sealed
	// without a live session.
	f.clock.Add(21 * time.Minute)
	p = c.post("/session/extend", url.Values{"return": {"json"}}, "Accept", "application/json")
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "session-expired") {
		t.Fatalf("extend an ended session: %d %s", p.status, p.body)
	}
	p = c.post("/session/extend", form).want(t, http.StatusUnauthorized, "session-expired")
	if p.hidden(t, "signin-form").Get("draft") != "" {
		t.Fatal("the choices of an ended session were sealed")
	}
}

func TestLanguage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.get("/", "Accept-Language", "en-GB,en;q=0.9").want(t, 200, "signin").
		has(t, `<html lang="en">`, "<title>Sign in — Congrès 2030</title>",
			`<button type="submit" class="link-button" id="lang-fr" lang="fr" form="signin-form" formaction="/sign-in?lang=fr" formnovalidate name="rerender" value="signin">Français</button>`)
	c.get("/board", "Accept-Language", "en").has(t, `<a id="lang-fr" lang="fr" hreflang="fr" href="/board?lang=fr">Français</a>`)
	c.get("/", "Accept-Language", "de-DE,fr;q=0.8,en;q=0.9").has(t, `<html lang="en">`)
	c.get("/", "Accept-Language", "de-DE").has(t, `<html lang="fr">`, `id="lang-en"`)

	// The switch is remembered.
	c.get("/?lang=en", "Accept-Language", "fr").has(t, `<html lang="en">`)
	if ck := c.jar[LangCookie]; ck == nil || ck.Value != "en" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("language cookie: %+v", ck)
	}
	c.get("/board", "Accept-Language", "fr").has(t, `<html lang="en">`)

	// On the code page the switch sends the form again: nothing is lost, no
	// attempt is counted.
	codePage := c.post("/sign-in", url.Values{"voter_id": {"V-1"}}).want(t, 200, "code")
	codePage.has(t, `<button type="submit" class="link-button" id="lang-fr" lang="fr" form="code-form" formaction="/sign-in/code?lang=fr" formnovalidate name="rerender" value="code">Français</button>`)
	code := f.waitCode(t, "camille@example.org")
	form := codePage.hidden(t, "code-form")
	form.Set("rerender", "code")
	fr := c.post("/sign-in/code?lang=fr", form).want(t, 200, "code")
	fr.has(t, `<html lang="fr">`, "c•••@example.org", "Saisissez le code reçu")
	form = fr.hidden(t, "code-form")
	form.Set("code", code)
	c.follow(c.post("/sign-in/code", form)).want(t, 200, "ballot").has(t, `<html lang="fr">`)

	// The review page's switch shows the review again, and never casts.
	review := c.post("/ballot", goodBallot).want(t, 200, "review")
	form = review.hidden(t, "review-form")
	form.Set("rerender", "review")
	c.post("/ballot/change?lang=en", form).want(t, 200, "review").has(t, `<html lang="en">`, "Your choice: <strong>Alice Lefèvre</strong>")
	c.post("/ballot/confirm?lang=en", form).want(t, 200, "review")
	if voted, _ := f.en.HasVoted(context.Background(), "V-1"); voted {
		t.Fatal("switching language cast the ballot")
	}

	// An election in English only: English whatever the browser says, no switch.
	g := newFixture(t, fixtureOptions{languages: []scrutinv1.Language{scrutinv1.LanguageEnglish}})
	g.client(t).get("/?lang=fr", "Accept-Language", "fr").has(t, `<html lang="en">`).hasNot(t, `id="lang-switch"`)
}

func TestCredentialSignIn(t *testing.T) {
	f := newFixture(t, fixtureOptions{method: scrutinv1.Credential})
	f.clock.Add(time.Hour)
	letter, err := f.smtp.WaitFor("jean@example.org", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var credential string
	for _, line := range strings.Split(letter.Body, "\n") {
		if rest, ok := strings.CutPrefix(line, "Your personal voting credential: "); ok {
			credential = strings.TrimSpace(rest)
		}
	}
	f.secret(credential)
	c := f.client(t)
	c.get("/").has(t, "Vous saisirez ensuite le code de vote personnel", `id="signin-submit">Continuer</button>`)
	p := c.post("/sign-in", url.Values{"voter_id": {"V-2"}}).want(t, 200, "credential")
	p.has(t, `<label for="credential">`, `autocomplete="off"`)
	form := p.hidden(t, "credential-form")
	form.Set("credential", "AAAAA-BBBBB")
	p = c.post("/sign-in/code", form).want(t, http.StatusUnauthorized, "credential")
	p.has(t, "Il vous reste 4 essais", `aria-describedby="credential-hint credential-error"`)
	form.Set("credential", strings.ToLower(credential))
	c.follow(c.post("/sign-in/code", form)).want(t, 200, "ballot")
}

// TestRateLimitedVoter: past its burst of sign-in steps (10, then one every 3 s), a
// voter id gets the page it sent again (429, Retry-After) saying how long to wait,
// in the voter's language; the code already sent works once the wait is over, and
// another voter signs in meanwhile.
func TestRateLimitedVoter(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	codePage := c.post("/sign-in", url.Values{"voter_id": {"V-1"}}).want(t, 200, "code")
	code := f.waitCode(t, "camille@example.org")
	for range 9 {
		c.post("/sign-in/resend", codePage.hidden(t, "resend-form")).want(t, http.StatusTooManyRequests, "code").
			has(t, "Vous pourrez demander un nouveau code dans 60 secondes").hasNot(t, "Beaucoup de tentatives")
	}
	p := c.post("/sign-in", url.Values{"voter_id": {"V-1"}}).want(t, http.StatusTooManyRequests, "signin")
	if p.header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After %q, want 3", p.header.Get("Retry-After"))
	}
	p.has(t, `<div id="notice" class="notice" role="status"><p>Beaucoup de tentatives de connexion ont été faites pour cet identifiant en peu de temps. Pour le protéger, merci d’attendre 3 secondes, puis de réessayer.</p></div>`,
		`value="V-1"`)
	form := codePage.hidden(t, "code-form")
	form.Set("code", code)
	p = c.post("/sign-in/code", form, "Accept-Language", "en").want(t, http.StatusTooManyRequests, "code")
	p.has(t, "To protect it, please wait 3 seconds, then try again.", "c•••@example.org")

	other := f.client(t)
	other.follow(other.signIn("V-2", "jean@example.org", "")).want(t, 200, "ballot")
	f.clock.Add(3 * time.Second)
	c.follow(c.post("/sign-in/code", form)).want(t, 200, "ballot")

	// With credentials: the credential page, after nine wrong ones.
	f = newFixture(t, fixtureOptions{method: scrutinv1.Credential})
	f.clock.Add(time.Hour)
	c = f.client(t)
	form = c.post("/sign-in", url.Values{"voter_id": {"V-3"}}).want(t, 200, "credential").hidden(t, "credential-form")
	form.Set("credential", "AAAAA-BBBBB")
	for range 9 {
		if p := c.post("/sign-in/code", form); p.status != http.StatusUnauthorized && p.status != http.StatusTooManyRequests || strings.Contains(p.body, "merci d’attendre") {
			t.Fatalf("a wrong credential within the burst: %d\n%s", p.status, p.body)
		}
	}
	c.post("/sign-in/code", form).want(t, http.StatusTooManyRequests, "credential").has(t, "merci d’attendre 3 secondes")
}

func TestSecurityHeadersAndCrossSiteForms(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	for _, path := range []string{"/", "/board", "/results", "/scrutineer", "/nope", "/ballot"} {
		p := c.get(path)
		checkHeaders(t, p.header, false)
		if p.status != http.StatusSeeOther && p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", path, p.header.Get("Cache-Control"))
		}
	}
	checkHeaders(t, c.get("/", "X-Forwarded-Proto", "https").header, true)

	// A form posted from another site is refused, and nothing is sent.
	p := c.post("/sign-in", url.Values{"voter_id": {"V-1"}}, "Sec-Fetch-Site", "cross-site").want(t, http.StatusForbidden, "forbidden")
	checkHeaders(t, p.header, false)
	c.post("/ballot/confirm", url.Values{"draft": {"x"}}, "Origin", "https://evil.example").want(t, http.StatusForbidden, "forbidden")
	if len(f.smtp.Messages()) != 0 {
		t.Fatal("a cross-site form sent a code")
	}
	// From the same site, it goes through.
	c.post("/sign-in", url.Values{"voter_id": {"V-1"}}, "Sec-Fetch-Site", "same-origin").want(t, 200, "code")

	// Cookies over TLS are Secure.
	g := f.client(t)
	g.post("/sign-in", url.Values{"voter_id": {"V-2"}}, "X-Forwarded-Proto", "https")
	code := f.waitCode(t, "jean@example.org")
	form := url.Values{"voter_id": {"V-2"}, "code": {code}}
	res := g.post("/sign-in/code", form, "X-Forwarded-Proto", "https")
	if ck := g.jar[server.SessionCookie]; ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie over TLS: %+v (%d)", ck, res.status)
	}

	// The stylesheet and the script.
	css := c.get("/static/style.css?v=" + f.pages.staticVer)
	if css.status != 200 || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("css: %d %v", css.status, css.header)
	}
	if js := c.get("/static/app.js"); js.status != 200 || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("js: %d %v", js.status, js.header)
	}
}

func checkHeaders(t *testing.T, h http.Header, tls bool) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'" {
		t.Errorf("CSP %q", got)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers %v", h)
	}
	if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != tls {
		t.Errorf("HSTS %q over TLS=%v", hsts, tls)
	}
}

func TestBoardAndResults(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	ctx := context.Background()
	var trackers []string
	for voter, a := range map[string]ballot.Answers{
		"V-1": {"chair": {"alice"}, "council": {"carla", "dan"}, "motions": {"m1", "m2"}},
		"V-2": {"chair": {"bob"}, "council": {"dan"}, "motions": {"m2"}},
		"V-3": {"chair": {}, "council": {"eve"}, "motions": {"m1"}},
	} {
		tr, err := f.en.Cast(ctx, voter, a)
		if err != nil {
			t.Fatal(err)
		}
		trackers = append(trackers, tr)
	}
	f.clock.Add(10 * time.Hour)
	if err := f.en.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	b := c.get("/board", "Accept-Language", "en").want(t, 200, "board")
	b.has(t, "3 ballots are in the ballot box.", `<ol class="trackers" id="tracker-list" start="1">`, `<form id="find-form" method="get" action="/board" role="search"`)
	for _, tr := range trackers {
		b.has(t, "<li><code>"+tr+"</code></li>")
	}
	c.get("/board?tracker="+strings.ToUpper(trackers[0]), "Accept-Language", "en").has(t, `data-found="true"`, "Found: this tracker is on the board.")
	c.get("/board?tracker="+strings.Repeat("0", 64), "Accept-Language", "en").has(t, `data-found="false"`, "Not found")
	c.get("/board?tracker=hello", "Accept-Language", "en").has(t, `id="tracker-query-error"`, `aria-invalid="true"`).hasNot(t, `id="find-result"`)

	r := c.get("/results", "Accept-Language", "en").want(t, 200, "results")
	r.has(t, `<p class="winners" id="winners_chair">The option with the most votes: <strong>Bob Martin</strong></p>`,
		`<caption>Number of votes for each option</caption>`,
		`<tr id="row_council_dan"><th scope="row">Dan <span class="tag">(winner)</span></th><td class="num">3</td></tr>`,
		`<td class="num" id="blank_chair">1</td>`, "Final ranking (Schulze method):")
}

func TestScrutineerPages(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	if _, err := f.en.Cast(context.Background(), "V-1", ballot.Answers{"chair": {"bob"}, "council": {}, "motions": {"m3"}}); err != nil {
		t.Fatal(err)
	}
	f.secret(testScrToken)
	c := f.client(t)
	c.get("/scrutineer").want(t, 200, "scrutineer-signin").has(t, `<input type="password" id="scrutineer-token" name="token"`)
	c.get("/scrutineer/participation.csv").want(t, http.StatusSeeOther, "")
	c.post("/scrutineer", url.Values{"token": {"nope"}}).want(t, http.StatusUnauthorized, "scrutineer-signin").has(t, `id="scrutineer-token-error"`)
	p := c.post("/scrutineer", url.Values{"token": {testScrToken}}, "X-Forwarded-Proto", "https").want(t, http.StatusSeeOther, "")
	ck := c.jar[ScrutineerCookie]
	if ck == nil || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || strings.Contains(ck.Value, testScrToken) {
		t.Fatalf("scrutineers' cookie: %+v (%d)", ck, p.status)
	}
	ck.Secure = false // the test server speaks HTTP
	d := c.get("/scrutineer").want(t, 200, "scrutineer")
	d.has(t, `<dd id="count-voters">3</dd>`, `<dd id="count-cast">1</dd>`, `<dd id="turnout">33,3`+"\u00a0"+`%</dd>`,
		`href="/scrutineer/participation.csv"`, "identifiant, nom, a voté")
	csv := c.get("/scrutineer/participation.csv")
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(csv.body, "voter_id,name,voted\nV-1,Camille Martin,true\n") {
		t.Fatalf("csv: %d %v\n%s", csv.status, csv.header, csv.body)
	}
	var live participationJSON
	if j := c.get("/scrutineer/participation.json"); j.status != 200 || json.Unmarshal([]byte(j.body), &live) != nil || live.BallotsCast != "1" {
		t.Fatalf("live counts: %d %s", j.status, j.body)
	}
	c.post("/scrutineer/sign-out", url.Values{}).want(t, http.StatusSeeOther, "")
	c.get("/scrutineer").want(t, 200, "scrutineer-signin")
	// A pass does not outlive its lifetime.
	if validPass(f.pages.scrutKey, testScrToken, ck.Value, f.clock.Now().Add(scrutineerPassLifetime+time.Second)) {
		t.Error("an expired pass is valid")
	}
	if validPass(f.pages.scrutKey, "another-token", ck.Value, f.clock.Now()) {
		t.Error("a pass outlives a change of token")
	}
}

func TestSignOut(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.follow(c.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	id := c.jar[server.SessionCookie].Value
	c.post("/sign-out", url.Values{}).want(t, 200, "signed-out")
	if _, err := f.en.Session(context.Background(), id); err == nil {
		t.Fatal("the session is still alive")
	}
	c.get("/ballot").want(t, http.StatusSeeOther, "")
}

// The reload of the code form, once signed in, goes on without a new attempt.
func TestCodeFormSentTwice(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	p := c.post("/sign-in", url.Values{"voter_id": {"V-1"}})
	form := p.hidden(t, "code-form")
	form.Set("code", f.waitCode(t, "camille@example.org"))
	c.post("/sign-in/code", form).want(t, http.StatusSeeOther, "")
	c.post("/sign-in/code", form).want(t, http.StatusSeeOther, "")
}

func TestNegotiate(t *testing.T) {
	for header, want := range map[string]string{
		"":                          "",
		"en":                        "en",
		"fr-CA,fr;q=0.9,en;q=0.8":   "fr",
		"en;q=0.5, fr;q=0.6":        "fr",
		"de, en-US;q=0.1":           "en",
		"fr;q=0, en;q=0.1":          "en",
		"es":                        "",
		"EN-gb":                     "en",
		"*;q=0.5":                   "",
		"en;q=0.9;foo=bar, fr;q=1 ": "fr",
	} {
		if got := negotiate(header, []string{"fr", "en"}); got != want {
			t.Errorf("negotiate(%q) = %q, want %q", header, got, want)
		}
	}
	if got := formatInt("fr", 1234567); got != "1\u202f234\u202f567" {
		t.Errorf("formatInt fr: %q", got)
	}
	if got := formatInt("en", 1234567); got != "1,234,567" {
		t.Errorf("formatInt en: %q", got)
	}
	if got := formatPercent("en", 812, 1000); got != "81.2%" {
		t.Errorf("formatPercent: %q", got)
	}
}

// An SMS election whose runtime has no SMS gateway cannot send codes.
func TestNoChannel(t *testing.T) {
	f := newFixture(t, fixtureOptions{method: scrutinv1.SMSCode})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.get("/").has(t, "par SMS")
	c.post("/sign-in", url.Values{"voter_id": {"V-1"}}).want(t, http.StatusUnprocessableEntity, "no-channel").
		has(t, "Merci de contacter Parti des Exemples.")
}

// Once the vote is cast, the session is shown but neither warned about nor
// extended.
func TestNoWarningAfterVoting(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	c.follow(c.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	review := c.post("/ballot", goodBallot).want(t, 200, "review")
	review.has(t, `data-warn="300"`, `id="extend-button" form="review-form"`)
	receipt := c.post("/ballot/confirm", review.hidden(t, "review-form")).want(t, 200, "receipt")
	receipt.has(t, `data-warn="0"`, `id="session-expiry"`, `id="signout-button"`).hasNot(t, `id="extend-button"`)
}

// TestReviewAndBallotLengthsDoNotTellTheChoice: the review page and the ballot's
// request were of a length that depends on the choices (3859/3855/3839 bytes for
// the three answers of one question): an observer of the encrypted traffic learned
// the vote. For every answer of each question (one, several, blank, rankings), the
// review page, its sealed draft, and the ballot request padded to the form's
// data-pad-to as the script pads it are each of one length.
func TestReviewAndBallotLengthsDoNotTellTheChoice(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour)
	c := f.client(t)
	b := c.follow(c.signIn("V-1", "camille@example.org", "")).want(t, 200, "ballot")
	m := regexp.MustCompile(`data-pad-to="(\d+)"`).FindStringSubmatch(b.body)
	if m == nil {
		t.Fatal("the ballot form says no length to pad to")
	}
	padTo, _ := strconv.Atoi(m[1])
	chairs := []string{"alice", "bob", "_blank"}
	councils := [][]string{{"_blank"}, {"carla"}, {"dan"}, {"eve"}, {"carla", "dan"}, {"carla", "eve"}, {"dan", "eve"}}
	rankings := []map[string]string{{"m1": "1"}, {"m3": "1"}, {"m2": "1", "m1": "2"}, {"m3": "1", "m1": "2", "m2": "3"}}
	reviews, drafts, requests := map[int]int{}, map[int]int{}, map[int]int{}
	for _, chair := range chairs {
		for _, council := range councils {
			for _, ranking := range rankings {
				form := url.Values{"q_chair": {chair}, "q_council": council}
				for _, o := range []string{"m1", "m2", "m3"} {
					form.Set("r_motions_"+o, ranking[o])
				}
				body := form.Encode()
				if len(body)+len("&pad=") > padTo {
					t.Fatalf("%s: %d bytes, more than the form pads to (%d)", body, len(body), padTo)
				}
				form.Set("pad", strings.Repeat("x", padTo-len(body)-len("&pad=")))
				requests[len(form.Encode())]++
				review := c.post("/ballot", form).want(t, 200, "review")
				reviews[len(review.body)]++
				drafts[len(review.hidden(t, "review-form").Get("draft"))]++
			}
		}
	}
	for what, lengths := range map[string]map[int]int{"review page": reviews, "sealed draft": drafts, "ballot request": requests} {
		if len(lengths) != 1 {
			t.Errorf("the %s's length tells the choice: %v", what, lengths)
		}
	}
	// the longest answers in English too
	c.post("/ballot?lang=en", url.Values{"q_chair": {"bob"}, "q_council": {"carla", "eve"}, "r_motions_m1": {"1"}}).want(t, 200, "review")
	en := c.post("/ballot?lang=en", url.Values{"q_chair": {"_blank"}, "q_council": {"_blank"}, "r_motions_m1": {"1"}}).want(t, 200, "review")
	other := c.post("/ballot?lang=en", url.Values{"q_chair": {"alice"}, "q_council": {"dan", "eve"}, "r_motions_m3": {"1"}, "r_motions_m2": {"2"}}).want(t, 200, "review")
	if len(en.body) != len(other.body) {
		t.Errorf("English review pages: %d and %d bytes", len(en.body), len(other.body))
	}
}
