package pages

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
	"scrutin.dev/scrutin/voting-runtime/server"
)

// clock is the tests' settable time source.
type clock = enginetest.Clock

const testRoll = enginetest.Roll

var (
	opens        = time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	testKey      = bytes.Repeat([]byte{7}, 32)
	testScrToken = "scrutineers-secret-token"
)

type fixture struct {
	en    *engine.Engine
	pages *Pages
	clock *clock
	smtp  *sink.SMTPSink
	mail  *delivery.Outbox
	srv   *httptest.Server
	logs  *lockedWriter
	// secrets are every code, credential and session id seen: no page may
	// contain one.
	mu      sync.Mutex
	secrets []string
	bodies  []string
}

type fixtureOptions struct {
	method    scrutinv1.AuthMethod
	languages []scrutinv1.Language
	// fallback: spec.delivery.fallback (the fixture sends mail only).
	fallback bool
	// backlog bounds the codes queued (default 100).
	backlog int
	// verifiable: the verifiable mode (Belenios, the platform's credentials and
	// key), without the Ranked question it cannot hold.
	verifiable bool
	// publicURL: the runtime's --public-url.
	publicURL string
	// proxies: spec.proxies.
	proxies *scrutinv1.Proxies
}

func testElection(o fixtureOptions) *scrutinv1.Election {
	two := int32(2)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "congress", UID: "4f9c"},
		Spec: scrutinv1.ElectionSpec{
			Title: "Congrès 2030", Organization: "Parti des Exemples", Languages: o.languages,
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(10 * time.Hour))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Who should chair the party?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice Lefèvre"}, {ID: "bob", Label: "Bob Martin"}}, AllowBlank: true},
				{ID: "council", Prompt: "Elect the council", Kind: scrutinv1.MultipleChoice, MaxChoices: &two, AllowBlank: true,
					Options: []scrutinv1.Option{{ID: "carla", Label: "Carla"}, {ID: "dan", Label: "Dan"}, {ID: "eve", Label: "Eve"}}},
				{ID: "motions", Prompt: "Rank the motions", Kind: scrutinv1.Ranked,
					Options: []scrutinv1.Option{{ID: "m1", Label: "Motion one"}, {ID: "m2", Label: "Motion two"}, {ID: "m3", Label: "Motion three"}}},
			},
			Authentication: scrutinv1.Authentication{Method: o.method},
			Scrutineers:    scrutinv1.Scrutineers{ExportFields: []scrutinv1.ParticipationField{scrutinv1.FieldVoterID, scrutinv1.FieldName, scrutinv1.FieldVoted}},
		},
	}
	e.Spec.Delivery.Fallback = o.fallback
	e.Spec.Proxies = o.proxies
	if o.verifiable {
		e.Spec.Questions = e.Spec.Questions[:2]
		e.Spec.Verifiability = &scrutinv1.Verifiability{Mode: scrutinv1.VerifiabilityBelenios}
	}
	e.Default()
	return e
}

// newFixture runs the pages of an election opening in one hour over a real engine,
// store and SMTP sink, and serves them with httptest.
func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	if o.method == "" {
		o.method = scrutinv1.EmailCode
	}
	ctx := context.Background()
	st, h := enginetest.Store(t)
	var err error
	f := &fixture{clock: enginetest.NewClock(opens.Add(-time.Hour)), smtp: sink.StartSMTP(t), logs: &lockedWriter{}}
	st.Clock = f.clock.Now // the ballot box follows the test's clock too
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.mail = enginetest.Outbox(t, st, enginetest.OutboxOptions{Now: f.clock.Now, Backlog: o.backlog,
		Mail: delivery.NewSMTP(delivery.SMTPConfig{Host: f.smtp.Host(), Port: f.smtp.Port(), From: "vote@example.org", TLS: "none", Timeout: 5 * time.Second})})
	var vf engine.Verifiable
	if o.verifiable {
		vf.TrusteeKey = big.NewInt(20300501) // the key never serves in the pages' tests
	}
	f.en, err = engine.New(engine.Config{Election: testElection(o), Store: st, Hasher: h, Outbox: f.mail, Now: f.clock.Now, Log: log, Verifiable: vf, PublicURL: o.publicURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.en.ImportRoll(ctx, strings.NewReader(testRoll)); err != nil {
		t.Fatal(err)
	}
	f.pages, err = New(Config{Engine: f.en, SessionKey: testKey, ScrutineerToken: testScrToken, Now: f.clock.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	// The pages as the runtime serves them: behind the server, which refuses
	// forms from another site before anything else.
	f.srv = httptest.NewServer(server.New(server.Config{Engine: f.en, Pages: f.pages, Forbidden: f.pages.Forbidden, WaitPage: f.pages.WaitPage, Log: log}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { f.checkNoSecrets(t) })
	return f
}

// lockedWriter keeps the logs, written by the delivery workers too.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (f *fixture) secret(s string) {
	f.mu.Lock()
	f.secrets = append(f.secrets, s)
	f.mu.Unlock()
}

// checkNoSecrets scans every page served for every code, credential and session
// id seen.
func (f *fixture) checkNoSecrets(t testing.TB) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.secrets {
		if s == "" {
			continue
		}
		re := regexp.MustCompile(`(^|[^0-9A-Za-z_-])` + regexp.QuoteMeta(s) + `($|[^0-9A-Za-z_-])`)
		for _, b := range f.bodies {
			if re.MatchString(b) {
				t.Errorf("a page contains a secret (code, credential or session id):\n%s", b)
			}
		}
	}
}

// client is a browser without JavaScript: it keeps cookies, follows no redirect
// by itself, and records every page.
type client struct {
	t      *testing.T
	f      *fixture
	jar    map[string]*http.Cookie
	header http.Header
}

func (f *fixture) client(t *testing.T) *client {
	return &client{t: t, f: f, jar: map[string]*http.Cookie{}, header: http.Header{}}
}

type page struct {
	status int
	header http.Header
	body   string
	res    *http.Response
}

func (c *client) do(method, path string, form url.Values, hdr ...string) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.f.srv.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" { // the transport takes the Host from the request, not its header
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	for _, ck := range c.jar {
		req.AddCookie(ck)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.jar, ck.Name)
			continue
		}
		c.jar[ck.Name] = ck
		if ck.Name == server.SessionCookie {
			c.f.secret(ck.Value)
		}
	}
	c.f.mu.Lock()
	c.f.bodies = append(c.f.bodies, string(b))
	c.f.mu.Unlock()
	return page{status: res.StatusCode, header: res.Header, body: string(b), res: res}
}

func (c *client) get(path string, hdr ...string) page { return c.do("GET", path, nil, hdr...) }
func (c *client) post(path string, form url.Values, hdr ...string) page {
	return c.do("POST", path, form, hdr...)
}

// follow follows a 303 like a browser.
func (c *client) follow(p page) page {
	c.t.Helper()
	if p.status != http.StatusSeeOther {
		return p
	}
	return c.get(p.header.Get("Location"))
}

func (p page) want(t *testing.T, status int, name string) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d (page %q):\n%s", p.status, status, name, p.body)
	}
	if name != "" && !strings.Contains(p.body, `data-page="`+name+`"`) {
		t.Fatalf("not the %q page (status %d):\n%s", name, p.status, p.body)
	}
	return p
}

func (p page) has(t *testing.T, parts ...string) page {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Errorf("the page does not contain %q:\n%s", s, p.body)
		}
	}
	return p
}

func (p page) hasNot(t *testing.T, parts ...string) page {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(p.body, s) {
			t.Errorf("the page contains %q:\n%s", s, p.body)
		}
	}
	return p
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the form with that id.
func (p page) hidden(t *testing.T, formID string) url.Values {
	t.Helper()
	start := strings.Index(p.body, `<form id="`+formID+`"`)
	if start < 0 {
		t.Fatalf("no form %q in:\n%s", formID, p.body)
	}
	end := strings.Index(p.body[start:], "</form>")
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.body[start:start+end], -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// waitCode reads the code sent to an address.
func (f *fixture) waitCode(t *testing.T, to string) string {
	t.Helper()
	m, err := f.smtp.WaitFor(to, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code := sink.CodeIn(m.Body)
	if code == "" {
		t.Fatalf("no code in %q", m.Body)
	}
	f.secret(code)
	return code
}

// signIn signs voter in through the pages, carrying draft, and returns the page
// that follows the code.
func (c *client) signIn(voterID, email, draft string) page {
	c.t.Helper()
	form := url.Values{"voter_id": {voterID}}
	if draft != "" {
		form.Set("draft", draft)
	}
	p := c.post("/sign-in", form).want(c.t, 200, "code")
	code := c.f.waitCode(c.t, email)
	hidden := p.hidden(c.t, "code-form")
	if hidden.Get("draft") != draft {
		c.t.Fatalf("the code page lost the draft")
	}
	hidden.Set("code", code)
	return c.post("/sign-in/code", hidden)
}

func merge(vs ...url.Values) url.Values {
	out := url.Values{}
	for _, v := range vs {
		for k, list := range v {
			out[k] = append(out[k], list...)
		}
	}
	return out
}
