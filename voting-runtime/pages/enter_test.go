package pages

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// attr is the value of an element's attribute, and whether it has it.
func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// isSubmitButton says whether n is a submit button.
func isSubmitButton(n *html.Node) bool {
	if n.Type != html.ElementNode {
		return false
	}
	typ, _ := attr(n, "type")
	typ = strings.ToLower(typ)
	switch n.Data {
	case "button":
		return typ == "" || typ == "submit"
	case "input":
		return typ == "submit" || typ == "image"
	}
	return false
}

// formOwner is the id of the form an element belongs to: its form attribute, else
// its nearest form ancestor's id.
func formOwner(n *html.Node) string {
	if id, ok := attr(n, "form"); ok {
		return id
	}
	for p := n.Parent; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == "form" {
			id, _ := attr(p, "id")
			return id
		}
	}
	return ""
}

// submission is what decides where and how a submit button sends its form.
var submission = []string{"name", "value", "formaction", "formmethod", "formenctype", "formtarget", "formnovalidate", "disabled"}

// checkEnter checks that Enter in a field of form formID does what the form's
// main button (its .primary submit button) does: the browser's implicit
// submission clicks the form's first submit button in tree order, counting the
// buttons outside the form that name it (form=). That first button is the main
// button, or a button hidden from everyone that submits the same way.
func checkEnter(t *testing.T, where, body, formID string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var form *html.Node
	var buttons, fields []*html.Node
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if id, _ := attr(n, "id"); n.Data == "form" && id == formID {
			form = n
		}
		if formOwner(n) != formID {
			continue
		}
		typ, _ := attr(n, "type")
		switch {
		case isSubmitButton(n):
			buttons = append(buttons, n)
		case n.Data == "select" || n.Data == "textarea" || n.Data == "input" && typ != "hidden":
			fields = append(fields, n)
		}
	}
	if form == nil {
		t.Fatalf("%s: no form %q", where, formID)
	}
	var main *html.Node
	for _, b := range buttons {
		class, _ := attr(b, "class")
		if _, outside := attr(b, "form"); !outside && slices.Contains(strings.Fields(class), "primary") {
			main = b
			break
		}
	}
	if main == nil {
		// Nothing to type into, nothing for Enter to send.
		if len(fields) > 0 {
			t.Errorf("%s: form %q has %d fields and no main (.primary) button", where, formID, len(fields))
		}
		return
	}
	first := buttons[0]
	if first == main {
		return
	}
	id, _ := attr(first, "id")
	var differ []string
	for _, key := range submission {
		fv, fok := attr(first, key)
		mv, mok := attr(main, key)
		if fv != mv || fok != mok {
			differ = append(differ, key+"="+fv)
		}
	}
	if len(differ) > 0 {
		t.Errorf("%s: Enter in form %q clicks #%s, which sends the form otherwise than its main button (%s)", where, formID, id, strings.Join(differ, ", "))
	}
	hidden, _ := attr(first, "aria-hidden")
	tabindex, _ := attr(first, "tabindex")
	class, _ := attr(first, "class")
	_, notRendered := attr(first, "hidden")
	if hidden != "true" || tabindex != "-1" || !slices.Contains(strings.Fields(class), "visually-hidden") || notRendered {
		t.Errorf("%s: form %q's first submit button #%s is not its main button and not hidden from sight, tab order and screen readers while rendered (aria-hidden %q, tabindex %q, class %q)",
			where, formID, id, hidden, tabindex, class)
	}
}

// TestEnterSendsTheMainForm: on every page with a main form, as the voter reaches
// it, Enter in a field does what the form's main button does, not what the
// language switch or the session's extend button (which submit the same form
// from the header) do.
func TestEnterSendsTheMainForm(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.clock.Add(time.Hour) // open
	c := f.client(t)
	check := func(p page, formID string) page {
		t.Helper()
		checkEnter(t, formID, p.body, formID)
		return p
	}
	check(c.get("/").want(t, 200, "signin"), "signin-form")
	check(c.post("/sign-in", url.Values{"voter_id": {"V-404"}}).want(t, http.StatusNotFound, "unknown-voter"), "signin-form")
	codePage := check(c.post("/sign-in", url.Values{"voter_id": {"V-1"}}).want(t, 200, "code"), "code-form")
	code := f.waitCode(t, "camille@example.org")
	form := codePage.hidden(t, "code-form")
	form.Set("code", "000000")
	if code == "000000" {
		form.Set("code", "111111")
	}
	check(c.post("/sign-in/code", form).want(t, http.StatusUnauthorized, "code"), "code-form")
	form.Set("code", code)
	b := check(c.follow(c.post("/sign-in/code", form)).want(t, 200, "ballot"), "ballot-form")
	b.has(t, `id="extend-button" form="ballot-form"`) // a form= button before the form
	review := check(c.post("/ballot", goodBallot).want(t, 200, "review"), "review-form")
	check(c.post("/ballot/confirm", review.hidden(t, "review-form")).want(t, 200, "receipt"), "receipt-form")

	g := newFixture(t, fixtureOptions{method: scrutinv1.Credential})
	g.clock.Add(time.Hour)
	c = g.client(t)
	p := check(c.post("/sign-in", url.Values{"voter_id": {"V-2"}}).want(t, 200, "credential"), "credential-form")
	form = p.hidden(t, "credential-form")
	form.Set("credential", "AAAAA-BBBBB")
	check(c.post("/sign-in/code", form).want(t, http.StatusUnauthorized, "credential"), "credential-form")
}

// TestEnterSendsTheMainFormOfEveryPage: every page rendered with a main form, with
// data taking each branch of its template, in each language.
func TestEnterSendsTheMainFormOfEveryPage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	forms := 0
	for name, variants := range samples(t) {
		for i, fill := range variants {
			for _, lang := range []string{"fr", "en"} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/x?lang="+lang, nil)
				v := f.pages.view(rec, req, name)
				fill(v)
				if v.MainForm == "" {
					continue
				}
				forms++
				f.pages.render(rec, req, http.StatusOK, v)
				checkEnter(t, name+"/"+lang+"/"+string(rune('0'+i)), rec.Body.String(), v.MainForm)
			}
		}
	}
	if forms == 0 {
		t.Fatal("no sample page has a main form")
	}
}
