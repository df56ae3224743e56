package pages

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"scrutin.dev/scrutin/voting-runtime/engine"
)

// templateOf maps the pages that share a template to it; every other page has a
// template of its own name.
var templateOf = map[string]string{
	"unknown-voter":     "signin",
	"session-expired":   "signin",
	"signed-out":        "signin",
	"too-many-attempts": "code-expired",
	"forbidden":         "error",
	"not-found":         "error",
	"results-not-yet":   "board-not-yet",
}

// pageNames are every page the package renders (the tests render each of them in
// every language).
var pageNames = []string{
	"signin", "unknown-voter", "session-expired", "signed-out", "credential", "code",
	"ballot", "review", "receipt", "already-voted", "not-open", "closed", "code-expired",
	"too-many-attempts", "no-channel", "wait", "error", "forbidden", "not-found",
	"board", "board-not-yet", "board-check", "ballot-verifiable", "results", "results-not-yet", "scrutineer-signin", "scrutineer",
	"proxy",
}

var funcs = template.FuncMap{
	"add":  func(a, b int) int { return a + b },
	"join": func(list []string) string { return strings.Join(list, ", ") },
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
	// who names a member as the roll does: their name and id, or the id alone.
	"who": func(m engine.MandateView) string {
		if m.Name == "" {
			return m.VoterID
		}
		return m.Name + " (" + m.VoterID + ")"
	},
	"seq": func(from, to int) []int {
		var s []int
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	},
}

// parseTemplates reads the layout and partials (templates/_*.html) and, for each
// page template, a copy of them with the page's "content".
func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/_*.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, name := range names {
		file := path.Base(name)
		if strings.HasPrefix(file, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, name)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(file, ".html")] = t
	}
	return out, nil
}

// view is what every template is given: the page's language and frame, and Data,
// the page's own content.
// fieldError puts an error under a field (into dst, the page data's field) and the
// same words in the summary at the top, linking to the field (href "#id").
func (v *view) fieldError(dst *string, href, text string) {
	*dst = text
	v.Errors = []summaryError{{Href: href, Text: text}}
}

type view struct {
	p    *Pages
	Lang string
	// Name of the page: its <title>, its main[data-page], its template.
	Name         string
	Title        string
	Organization string
	Switch       []langLink
	// MainForm is the id of the form that holds what the voter typed or chose:
	// the language switch and the session's extend button submit it, so nothing
	// is lost. RerenderAction is where the language switch sends it.
	MainForm, RerenderAction string
	Session                  *sessionView
	// Errors is the error summary at the top of the page.
	Errors []summaryError
	// Notice is a message about what just happened, at the top of the page.
	Notice  string
	Refresh template.HTML
	CSS, JS string
	// Scripts are the page's own scripts, after JS.
	Scripts []string
	Data    any
	// Proxy is what a holder of proxies sees on the ballot pages (nil: none).
	Proxy *proxyPanel
	// err is the first message missing from the catalog (see msg).
	err error
}

type langLink struct {
	Code, Label, Href, Action string
}

type summaryError struct {
	Href, Text string
}

// sessionView is the signed-in voter's session, shown on every signed-in page.
type sessionView struct {
	VoterID string
	Expires time.Time
	// Remaining and Warn are in seconds: the script warns Warn seconds before the
	// end.
	Remaining, Warn int
	// Return names the page the extend button comes back to.
	Return string
}

// view prepares the frame of a page in the voter's language.
func (p *Pages) view(w http.ResponseWriter, r *http.Request, name string) *view {
	v := &view{
		p: p, Lang: p.language(w, r), Name: name, Title: p.e.Spec.Title, Organization: p.e.Spec.Organization,
		CSS: "/static/style.css?v=" + p.staticVer, JS: "/static/app.js?v=" + p.staticVer,
	}
	for _, l := range p.langs {
		if l == v.Lang {
			continue
		}
		q := r.URL.Query()
		q.Set("lang", l)
		v.Switch = append(v.Switch, langLink{
			Code: l, Label: languageNames[l], Href: localURI(r, q),
		})
	}
	return v
}

// withForm makes the language switch resubmit form to action.
func (v *view) withForm(form, action string) *view {
	v.MainForm, v.RerenderAction = form, action
	for i := range v.Switch {
		v.Switch[i].Action = action + "?lang=" + url.QueryEscape(v.Switch[i].Code)
	}
	return v
}

// T is a message of the catalog in the page's language.
func (v *view) T(key string, args ...any) (string, error) { return translate(v.Lang, key, args...) }

// TN is a message that depends on the count n (KEY.one, KEY.other), formatted with
// n and then args.
func (v *view) TN(key string, n int, args ...any) (string, error) {
	return translate(v.Lang, pluralKey(v.Lang, key, int64(n)), append([]any{n}, args...)...)
}

// msg is T for Go code: a missing message makes the page fail, as in a template.
func (v *view) msg(key string, args ...any) string {
	s, err := v.T(key, args...)
	if err != nil && v.err == nil {
		v.err = err
	}
	return s
}

// msgN is TN for Go code.
func (v *view) msgN(key string, n int, args ...any) string {
	s, err := v.TN(key, n, args...)
	if err != nil && v.err == nil {
		v.err = err
	}
	return s
}

// noticeFor is the notice of key, with the session's end when it says it.
func (v *view) noticeFor(key string) string {
	if key == "session.notice_extended" && v.Session != nil {
		return v.msg(key, v.Clock(v.Session.Expires))
	}
	return v.msg(key)
}

// DateTime is t in Paris time, for people.
func (v *view) DateTime(t time.Time) string { return formatDateTime(v.Lang, t, v.p.paris) }

// Clock is the time of day of t in Paris.
func (v *view) Clock(t time.Time) string { return formatClock(v.Lang, t, v.p.paris) }

// ClockSeconds is the time of day of t in Paris, to the second.
func (v *view) ClockSeconds(t time.Time) string { return t.In(v.p.paris).Format("15:04:05") }

// Ordinal is a rank for people: "1st choice", "1er choix".
func (v *view) Ordinal(n int) (string, error) {
	var num string
	switch {
	case v.Lang == "fr" && n == 1:
		num = "1er"
	case v.Lang == "fr":
		num = strconv.Itoa(n) + "e"
	case n%100 >= 11 && n%100 <= 13:
		num = strconv.Itoa(n) + "th"
	case n%10 == 1:
		num = strconv.Itoa(n) + "st"
	case n%10 == 2:
		num = strconv.Itoa(n) + "nd"
	case n%10 == 3:
		num = strconv.Itoa(n) + "rd"
	default:
		num = strconv.Itoa(n) + "th"
	}
	return v.T("ballot.rank_option", num)
}

// UTC is t in UTC, for people.
func (v *view) UTC(t time.Time) string { return formatDateTime(v.Lang, t, time.UTC) }

// RFC3339 is t for a <time datetime>.
func (v *view) RFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Num writes a count.
func (v *view) Num(n int64) string { return formatInt(v.Lang, n) }

// Percent writes part/total as a percentage.
func (v *view) Percent(part, total int64) string { return formatPercent(v.Lang, part, total) }

// PageTitle is the <title>: where the voter is, and in which election.
func (v *view) PageTitle() (string, error) {
	t, err := v.T("title." + v.Name)
	if err != nil {
		return "", err
	}
	if len(v.Errors) > 0 {
		prefix, err := v.T("title.error_prefix")
		if err != nil {
			return "", err
		}
		t = prefix + " " + t
	}
	return t + " — " + v.Title, nil
}

// render writes the page with its status. Pages are never cached: most hold a
// voter's data.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, v *view) {
	body, err := p.execute(v)
	if err != nil {
		p.renderFailed(w, v, err)
		return
	}
	p.write(w, status, body)
}

// execute renders the page of v.
func (p *Pages) execute(v *view) ([]byte, error) {
	name := v.Name
	if t, ok := templateOf[name]; ok {
		name = t
	}
	t, ok := p.tmpl[name]
	if v.err != nil {
		return nil, v.err
	}
	if !ok {
		return nil, fmt.Errorf("no template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return nil, err
	}
	if v.err != nil {
		return nil, v.err
	}
	return buf.Bytes(), nil
}

func (p *Pages) renderFailed(w http.ResponseWriter, v *view, err error) {
	p.log.Error("A page could not be rendered", "page", v.Name, "lang", v.Lang, "error", err)
	http.Error(w, "Internal error / erreur interne", http.StatusInternalServerError)
}

// write sends a rendered page.
func (p *Pages) write(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = htmlValue
	h["Cache-Control"] = noStoreValue
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// refreshMeta is a <meta http-equiv="refresh">, inside <noscript> when the
// script does the retry itself (it resubmits a form, which the meta element cannot).
func refreshMeta(seconds int, to string, noscript bool) template.HTML {
	content := strconv.Itoa(seconds)
	if to != "" {
		content += "; url=" + to
	}
	m := `<meta http-equiv="refresh" content="` + html.EscapeString(content) + `">`
	if noscript {
		m = "<noscript>" + m + "</noscript>"
	}
	return template.HTML(m)
}

// waitData is the wait page's: how long, and the page to go back to.
type waitData struct {
	Seconds int
	// Retry is the page the wait page goes back to, with GET: the page asked
	// for, or, after a form, the page the form was on.
	Retry string
	// NotSent: what the voter sent (a form) was not received.
	NotSent bool
}

// WaitPage answers "many people are voting right now: wait a few seconds" with
// HTTP 503 and Retry-After, and goes back by itself, with GET, after a countdown
// (the script) or a <meta http-equiv="refresh"> (without JavaScript): to the page
// asked for, or, after a form, to the page the form was on (the ballot, the
// sign-in page with the voter id when already read). A wait page never reads the
// request's body and never writes any of it back into a page: a form is never
// sent again by itself. The session is kept; choices not yet sent are not. The
// admission control (overload shedding) and the per-address limits call it too.
func (p *Pages) WaitPage(w http.ResponseWriter, r *http.Request, seconds int) {
	if seconds < 1 {
		seconds = 1
	}
	if p.writeCachedWait(w, r, seconds) {
		return
	}
	securityHeaders(w, r)
	v := p.waitView(w, r, seconds)
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	p.render(w, r, http.StatusServiceUnavailable, v)
}

// waitView is the wait page's view.
func (p *Pages) waitView(w http.ResponseWriter, r *http.Request, seconds int) *view {
	v := p.view(w, r, "wait")
	d := &waitData{Seconds: seconds, Retry: localURI(r, r.URL.Query())}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		d.NotSent, d.Retry = true, retryPage(r)
	}
	// Without JavaScript the meta refresh goes back; with it, the script does,
	// after a countdown the voter sees (a bare meta refresh gives no warning).
	v.Refresh = refreshMeta(seconds, d.Retry, true)
	v.Data = d
	return v
}

// localURI is the address of r's page on this site, with query: its path cleaned
// and escaped, so that a link or a refresh to it stays on this site. A path such
// as "//evil.example/" or "/\evil.example" (which a browser reads as another host,
// as it does "/\t/evil.example": it drops tabs and newlines) is written
// "/evil.example" or "/%5Cevil.example".
func localURI(r *http.Request, query url.Values) string {
	u := (&url.URL{Path: path.Clean("/" + r.URL.Path)}).EscapedPath()
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.HasPrefix(u, "/\\") {
		u = "/"
	}
	if q := query.Encode(); q != "" {
		u += "?" + q
	}
	return u
}

// retryPage is the page a form sent to r's path was on, to go back to with GET.
func retryPage(r *http.Request) string {
	switch path := r.URL.Path; {
	case path == "/sign-in" || path == "/sign-in/code" || path == "/sign-in/resend":
		// the voter id, when the form was read already (a code that could not
		// be sent): the one field of it ever written back, into a link
		if r.PostForm != nil {
			if id := strings.TrimSpace(r.PostForm.Get("voter_id")); id != "" {
				return "/sign-in?voter_id=" + url.QueryEscape(id)
			}
		}
		return "/sign-in"
	case strings.HasPrefix(path, "/scrutineer"):
		return "/scrutineer"
	case path == "/ballot" || strings.HasPrefix(path, "/ballot/") || path == "/receipt" || path == "/session/extend":
		return "/ballot"
	default:
		return "/"
	}
}
