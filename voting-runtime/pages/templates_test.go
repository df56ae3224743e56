package pages

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/engine"
)

func httptestRecorder(t *testing.T, f *fixture, method, path string, form url.Values, h http.HandlerFunc) page {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	body := rec.Body.String()
	f.mu.Lock()
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	return page{status: rec.Code, header: rec.Header(), body: body}
}

var verbRe = regexp.MustCompile(`%(\[\d+\])?[dsvq%]`)

// TestCatalogsComplete: every message exists in both languages, with the same
// formatting verbs, and every message a template names exists.
func TestCatalogsComplete(t *testing.T) {
	fr, en := catalogs["fr"], catalogs["en"]
	for k, v := range fr {
		e, ok := en[k]
		if !ok {
			t.Errorf("%q is in French only", k)
			continue
		}
		a, b := verbRe.FindAllString(v, -1), verbRe.FindAllString(e, -1)
		sort.Strings(a)
		sort.Strings(b)
		if strings.Join(a, " ") != strings.Join(b, " ") {
			t.Errorf("%q: verbs %v in French, %v in English", k, a, b)
		}
		if strings.Contains(v, "{n}") != strings.Contains(e, "{n}") {
			t.Errorf("%q: {n} in one language only", k)
		}
		if strings.TrimSpace(v) == "" || strings.TrimSpace(e) == "" {
			t.Errorf("%q is empty", k)
		}
	}
	for k := range en {
		if _, ok := fr[k]; !ok {
			t.Errorf("%q is in English only", k)
		}
	}
	// Keys named literally in templates and Go code, and those a template hands to
	// a shared one as a dict's value (board-find's "Hint" "board.find_hint").
	keyRe := regexp.MustCompile(`\.(T|TN|msg|msgN) "([A-Za-z0-9_.\-]+)"`)
	dictKeyRe := regexp.MustCompile(`"[A-Z][A-Za-z]*" "()([a-z][a-z0-9_]*\.[a-z0-9_.]+)"`)
	check := func(where, text string) {
		for _, m := range append(keyRe.FindAllStringSubmatch(text, -1), dictKeyRe.FindAllStringSubmatch(text, -1)...) {
			keys := []string{m[2]}
			if m[1] == "TN" || m[1] == "msgN" {
				keys = []string{m[2] + ".one", m[2] + ".other"}
			}
			for _, k := range keys {
				if _, ok := en[k]; !ok {
					t.Errorf("%s names %q, which the catalog lacks", where, k)
				}
			}
		}
	}
	_ = fs.WalkDir(templateFS, "templates", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := templateFS.ReadFile(name)
			check(name, string(b))
		}
		return nil
	})
}

// samples give every page data that takes every branch of its template.
func samples(t *testing.T) map[string][]func(v *view) {
	now := time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)
	sess := &sessionView{VoterID: "V-1", Expires: now.Add(20 * time.Minute), Remaining: 1200, Warn: 300, Return: "ballot"}
	st := signInState{VoterID: "V-1", Draft: "sealed", Channel: "mail", Destination: "c•••@example.org", ResendAt: now.Unix()}
	two := int32(2)
	qs := []questionView{
		{ID: "chair", Prompt: "Chair?", Kind: "SingleChoice", Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}, AllowBlank: true, Number: 1, Total: 4, Min: 1, Max: 1,
			Sel: &selection{Chosen: map[string]bool{"a": true}}, Error: "Problem", First: "q_chair_a"},
		{ID: "council", Prompt: "Council?", Kind: "MultipleChoice", Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}, {ID: "c", Label: "C"}}, AllowBlank: true, Number: 2, Total: 4, Min: 1, Max: int(two),
			Sel: &selection{Blank: true}, First: "q_council_a"},
		{ID: "exact", Prompt: "Exactly?", Kind: "MultipleChoice", Options: []scrutinv1.Option{{ID: "a", Label: "A"}, {ID: "b", Label: "B"}}, Number: 3, Total: 4, Min: 2, Max: 2, Sel: &selection{}, First: "q_exact_a"},
		{ID: "motions", Prompt: "Rank?", Kind: "Ranked", Options: []scrutinv1.Option{{ID: "m1", Label: "M1"}, {ID: "m2", Label: "M2"}}, Number: 4, Total: 4, Min: 1, Max: 2,
			Sel: &selection{Ranks: map[string]int{"m2": 1}}, First: "r_motions_m1"},
	}
	phase := &phaseData{OpensAt: now, ClosesAt: now.Add(10 * time.Hour)}
	mandates := []engine.MandateView{{VoterID: "V-2", Name: "Jean Dupont", Voted: true, ByProxy: true},
		{VoterID: "V-3", Voted: true}, {VoterID: "V-4", Name: "Louis Petit"}}
	signedIn := func(ret string, d any) func(v *view) {
		return func(v *view) { s := *sess; s.Return = ret; v.Session = &s; v.Data = d }
	}
	data := func(d any) func(v *view) { return func(v *view) { v.Data = d } }
	withErr := func(d any, form string) func(v *view) {
		return func(v *view) {
			v.Data = d
			v.Errors = []summaryError{{Href: "#x", Text: "Problem"}}
			v.Notice = "Notice"
			v.withForm(form, "/sign-in")
		}
	}
	signin := func(m scrutinv1.AuthMethod) *signInData { return &signInData{signInState: st, Method: m} }
	all := map[string][]func(v *view){
		"signin":          {data(signin(scrutinv1.EmailCode)), data(signin(scrutinv1.SMSCode)), withErr(&signInData{signInState: st, Method: scrutinv1.Credential, FieldError: "Problem"}, "signin-form")},
		"unknown-voter":   {withErr(&signInData{signInState: st, Method: scrutinv1.EmailCode, FieldError: "Problem"}, "signin-form")},
		"session-expired": {data(signin(scrutinv1.EmailCode)), data(&signInData{Method: scrutinv1.SMSCode})},
		"signed-out":      {data(&signInData{Method: scrutinv1.EmailCode})},
		"credential":      {data(signin(scrutinv1.Credential)), withErr(&signInData{signInState: st, Method: scrutinv1.Credential, FieldError: "Problem"}, "credential-form")},
		"code":            {data(&codeData{signInState: st, ValidMinutes: 10, ResendIn: 60}), withErr(&codeData{signInState: signInState{VoterID: "V-1", Channel: "sms", Destination: "+33 6 •• 78"}, ValidMinutes: 1, FieldError: "Problem"}, "code-form")},
		"ballot": {signedIn("ballot", &ballotData{Questions: qs}), func(v *view) { signedIn("ballot", &ballotData{Questions: qs})(v); v.withForm("ballot-form", "/ballot") },
			func(v *view) {
				signedIn("ballot", &ballotData{Questions: qs})(v)
				v.Proxy = &proxyPanel{For: &mandates[2], OwnVoted: true, Mandates: mandates}
			},
			func(v *view) {
				signedIn("ballot", &ballotData{Questions: qs})(v)
				v.Proxy = &proxyPanel{Mandates: mandates[:1]}
			}},
		"review": {func(v *view) {
			signedIn("review", &reviewData{Draft: "sealed", Items: []reviewItem{{Number: 1, ID: "a", Prompt: "A?", Kind: "SingleChoice", Labels: []string{"X"}}, {Number: 2, ID: "b", Prompt: "B?", Kind: "MultipleChoice", Labels: []string{"X", "Y"}}, {Number: 3, ID: "c", Prompt: "C?", Kind: "Ranked", Labels: []string{"X", "Y"}}, {Number: 4, ID: "d", Prompt: "D?", Kind: "Ranked", Blank: true}}})(v)
			v.withForm("review-form", "/ballot/change")
		}},
		"receipt": {signedIn("receipt", &receiptData{Tracker: strings.Repeat("ab", 32), Short: "abab-abab-abab", ClosesAt: now}),
			func(v *view) {
				signedIn("receipt", &receiptData{Tracker: strings.Repeat("ab", 32), Short: "abab-abab-abab", ClosesAt: now})(v)
				v.Proxy = &proxyPanel{For: &mandates[0], OwnVoted: true, Mandates: mandates}
			}},
		"already-voted": {signedIn("already-voted", phase), func(v *view) {
			signedIn("already-voted", phase)(v)
			v.Proxy = &proxyPanel{For: &mandates[1], Mandates: mandates}
		}},
		"not-open": {data(phase), data(&phaseData{OpensAt: now, ClosesAt: now.Add(time.Hour), ProxyLink: true})},
		"proxy": {
			signedIn("proxy", &proxyData{VoterProxies: engine.VoterProxies{Allowed: true, Deadline: now, Mandates: mandates}, Max: 2}),
			signedIn("proxy", &proxyData{VoterProxies: engine.VoterProxies{Allowed: true, Deadline: now, Given: &mandates[0]}, Max: 1}),
			signedIn("proxy", &proxyData{VoterProxies: engine.VoterProxies{Given: &mandates[0]}}),
			signedIn("proxy", &proxyData{}),
			func(v *view) {
				signedIn("proxy", &proxyData{VoterProxies: engine.VoterProxies{Allowed: true, Deadline: now}, Max: 3, Holder: "V-9", FieldError: "Problem"})(v)
				v.Errors = []summaryError{{Href: "#holder", Text: "Problem"}}
				v.withForm("proxy-form", "/proxy")
			},
		},
		"closed":            {data(phase)},
		"code-expired":      {data(signin(scrutinv1.EmailCode)), data(&signInData{signInState: signInState{VoterID: "V-1"}, Method: scrutinv1.SMSCode})},
		"too-many-attempts": {data(signin(scrutinv1.Credential))},
		"no-channel":        {data(nil)},
		"wait":              {data(&waitData{Seconds: 5, Retry: "/ballot"}), data(&waitData{Seconds: 1, Retry: "/sign-in?voter_id=V-1", NotSent: true})},
		"error":             {data(&errorData{}), data(&errorData{Draft: "sealed"})},
		"forbidden":         {data(&errorData{})},
		"not-found":         {data(&errorData{})},
		"board": {
			data(&boardData{Total: 1234, Total64: 1234, Start: 501, Trackers: []string{"ab"}, Page: 2, Pages: 3, PrevHref: "/board?page=1", NextHref: "/board?page=3", Looked: true, Found: true, Short: true, Matches: []string{"ab"}, Query: "ab"}),
			data(&boardData{Total: 1, Total64: 1, Start: 1, Trackers: []string{"ab"}, Page: 1, Pages: 1, Looked: true, Query: "x"}),
			withErr(&boardData{Page: 1, Pages: 1, QueryError: "Problem", Start: 1}, ""),
			data(&verifiableBoardData{boardData: boardData{Verifiable: true, Total: 1234, Total64: 1234, Start: 501, Trackers: []string{"ab"}, Page: 2, Pages: 3, PrevHref: "/board?page=1", NextHref: "/board?page=3", Looked: true, Found: true, Short: true, Query: "abcdefghij"},
				NumberedMatches: []numberedTracker{{N: 3, Tracker: "abcdefghijk"}}}),
			data(&verifiableBoardData{boardData: boardData{Verifiable: true, Total: 1, Total64: 1, Start: 1, Trackers: []string{"ab"}, Page: 1, Pages: 1, Looked: true, Found: true, Query: "ab"}, Number: 1}),
			data(&verifiableBoardData{boardData: boardData{Verifiable: true, Page: 1, Pages: 1, Start: 1, Looked: true, Query: "abcdefghij"}}),
			withErr(&verifiableBoardData{boardData: boardData{Verifiable: true, Page: 1, Pages: 1, QueryError: "Problem", Start: 1}}, ""),
		},
		"board-not-yet": {data(&notYetData{ClosesAt: now}), data(&notYetData{ClosesAt: now, OpensAt: now, Live: true})},
		"board-check":   {data(&boardCheckData{BoardURL: "https://vote.example.org/api/v1/board.bel"})},
		"ballot-verifiable": {func(v *view) {
			vqs := append([]questionView(nil), qs[:3]...)
			for i := range vqs {
				vqs[i].Error = ""
				vqs[i].Verifiable = boundsOf(v, &vqs[i])
			}
			signedIn("ballot", &verifiableBallotData{Questions: vqs, PublicCredential: "1234567890", VoterID: "V-1", SiteURL: "https://vote.example.org"})(v)
			v.Notice = "Notice"
		}},
		"results-not-yet": {data(&notYetData{ClosesAt: now}), data(&notYetData{ClosesAt: now, Closed: true})},
		"results": {data(&resultsData{Questions: []resultView{
			{Number: 1, ID: "a", Prompt: "A?", Rows: []resultRow{{ID: "x", Label: "X", Votes: 3, Winner: true}}, Winners: []string{"X"}, Blank: 1},
			{Number: 2, ID: "b", Prompt: "B?", Rows: []resultRow{{ID: "x", Label: "X"}, {ID: "y", Label: "Y"}}},
			{Number: 3, ID: "c", Prompt: "C?", Ranked: true, Rows: []resultRow{{ID: "x", Label: "X", Votes: 2, Winner: true}, {ID: "y", Label: "Y", Votes: 2, Winner: true}}, Winners: []string{"X", "Y"}, Places: []rankPlace{{"X", 1, true}, {"Y", 1, true}}, Ties: true},
			{Number: 4, ID: "d", Prompt: "D?", Ranked: true, Rows: []resultRow{{ID: "x", Label: "X", Votes: 2, Winner: true}}, Winners: []string{"X"}, Places: []rankPlace{{"X", 1, false}}},
		}})},
		"scrutineer-signin": {data(&scrutineerData{Enabled: true}), data(&scrutineerData{}), withErr(&scrutineerData{Enabled: true, FieldError: "Problem"}, "")},
		"scrutineer": {data(&scrutineerData{Enabled: true, Voters: 140000, BallotsCast: 1, Phase: "Open", UpdatedAt: now,
			Fields: []scrutinv1.ParticipationField{scrutinv1.FieldVoterID, scrutinv1.FieldName, scrutinv1.FieldEmail, scrutinv1.FieldPhone, scrutinv1.FieldWeight, scrutinv1.FieldVoted}}),
			data(&scrutineerData{Enabled: true, Phase: "NotYetOpen"}), data(&scrutineerData{Enabled: true, Phase: "Closed"})},
	}
	// The pages that keep what the voter typed or chose in a form, with that form
	// as their handlers give it.
	for name, form := range map[string][2]string{
		"signin": {"signin-form", "/sign-in"}, "unknown-voter": {"signin-form", "/sign-in"}, "session-expired": {"signin-form", "/sign-in"},
		"signed-out": {"signin-form", "/sign-in"}, "credential": {"credential-form", "/sign-in/code"}, "code": {"code-form", "/sign-in/code"},
		"code-expired": {"newcode-form", "/sign-in"}, "too-many-attempts": {"newcode-form", "/sign-in"},
		"ballot": {"ballot-form", "/ballot"}, "review": {"review-form", "/ballot/change"}, "receipt": {"receipt-form", "/receipt"},
	} {
		for i, fill := range all[name] {
			all[name][i] = func(v *view) { fill(v); v.withForm(form[0], form[1]) }
		}
	}
	return all
}

var (
	idRe       = regexp.MustCompile(`\sid="([^"]+)"`)
	fieldRe    = regexp.MustCompile(`<(input|select|textarea)\s[^>]*>`)
	fieldIDRe  = regexp.MustCompile(`\sid="([^"]+)"`)
	labelForRe = regexp.MustCompile(`<label for="([^"]+)"`)
)

// TestEveryPageRendersInBothLanguages renders every page of the package in each
// language, with data taking each branch of its template: no message is missing,
// the page says its language, has one <h1>, a <title>, unique ids and a label for
// each field.
func TestEveryPageRendersInBothLanguages(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	all := samples(t)
	for _, name := range pageNames {
		if len(all[name]) == 0 {
			t.Errorf("no sample for page %q", name)
		}
	}
	for name, variants := range all {
		for i, fill := range variants {
			for _, lang := range []string{"fr", "en"} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/x?lang="+lang, nil)
				v := f.pages.view(rec, req, name)
				fill(v)
				f.pages.render(rec, req, http.StatusOK, v)
				body := rec.Body.String()
				where := name + "/" + lang + "/" + string(rune('0'+i))
				if rec.Code != http.StatusOK {
					t.Errorf("%s: status %d: %s (logs: %s)", where, rec.Code, body, f.logs.String())
					continue
				}
				checkPage(t, where, lang, body)
			}
		}
	}
}

func checkPage(t *testing.T, where, lang, body string) {
	t.Helper()
	if !strings.Contains(body, `<html lang="`+lang+`">`) {
		t.Errorf("%s: no <html lang=%q>", where, lang)
	}
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("%s: %d <h1>", where, n)
	}
	if !regexp.MustCompile(`<title>[^<]+ — Congrès 2030</title>`).MatchString(body) {
		t.Errorf("%s: no <title>", where)
	}
	for _, bad := range []string{"%!", "ZgotmplZ", "<no value>", "{n}\"", "style=", "onclick", "<script>"} {
		if strings.Contains(body, bad) && !(bad == "{n}\"" && strings.Contains(body, "data-msg")) {
			t.Errorf("%s: contains %q:\n%s", where, bad, body)
		}
	}
	seen := map[string]bool{}
	for _, m := range idRe.FindAllStringSubmatch(body, -1) {
		if seen[m[1]] {
			t.Errorf("%s: id %q twice", where, m[1])
		}
		seen[m[1]] = true
	}
	labels := map[string]bool{}
	for _, m := range labelForRe.FindAllStringSubmatch(body, -1) {
		labels[m[1]] = true
	}
	for _, field := range fieldRe.FindAllString(body, -1) {
		if strings.Contains(field, `type="hidden"`) {
			continue
		}
		id := fieldIDRe.FindStringSubmatch(field)
		if id == nil || !labels[id[1]] {
			t.Errorf("%s: a field without a label: %s", where, field)
		}
	}
	if !strings.Contains(body, `<a class="skip-link" id="skip-link" href="#main">`) || !strings.Contains(body, `<main id="main"`) {
		t.Errorf("%s: no skip link", where)
	}
}
