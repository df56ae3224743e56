package pages

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// TestVoterGivesAndWithdrawsTheirProxy: before the opening, a signed-in member
// finds the proxy page from the not-open page, is told plainly why a holder
// is refused (an id not on the roll, a holder at the cap), gives their vote to
// a member (both told by mail), withdraws it, gives it again; past the
// deadline the page says proxies can no longer change and refuses a post.
// Where only the organiser declares proxies, the page does not exist.
func TestVoterGivesAndWithdrawsTheirProxy(t *testing.T) {
	deadline := metav1.NewTime(opens.Add(-50 * time.Minute)) // ten minutes after the fixture's now
	f := newFixture(t, fixtureOptions{languages: []scrutinv1.Language{scrutinv1.LanguageEnglish},
		proxies: &scrutinv1.Proxies{MaxPerHolder: 1, GivenBy: scrutinv1.ProxiesByVoters, Deadline: &deadline}})
	c := f.client(t)
	// before the opening, members sign in to give a proxy
	c.get("/").want(t, 200, "signin")
	notOpen := c.follow(c.signIn("V-1", "camille@example.org", "")).want(t, http.StatusConflict, "not-open")
	notOpen.has(t, `<a href="/proxy" id="proxy-page-link">Give your vote to another member</a>`)

	page := c.get("/proxy").want(t, 200, "proxy")
	page.has(t, `id="proxy-form"`, `<label for="holder">`, "A member holds at most 1 proxy")
	c.post("/proxy", url.Values{"holder": {"V-404"}}).want(t, http.StatusUnprocessableEntity, "proxy").
		has(t, "This voter id is not on the roll.", `aria-invalid="true"`, `value="V-404"`)
	given := c.post("/proxy", url.Values{"holder": {"V-2"}}).want(t, 200, "proxy")
	given.has(t, "Your proxy is recorded.", "You gave your vote to Jean Dupont (V-2), who will vote for you.", `id="withdraw-form"`)
	for _, to := range []string{"camille@example.org", "jean@example.org"} {
		m, err := f.smtp.WaitFor(to, 10*time.Second)
		if err != nil || !strings.Contains(m.Body, "proxy") {
			t.Errorf("no notice to %s (%v)", to, err)
		}
	}

	// V-3 cannot give to V-2 as well: the cap is 1.
	c3 := f.client(t)
	c3.follow(c3.signIn("V-3", "amina@example.org", ""))
	c3.post("/proxy", url.Values{"holder": {"V-2"}}).want(t, http.StatusUnprocessableEntity, "proxy").
		has(t, "This member already holds as many proxies as allowed.")

	c.post("/proxy/withdraw", url.Values{}).want(t, 200, "proxy").has(t, "Your proxy is withdrawn: you vote yourself.", `id="proxy-form"`)
	c3.post("/proxy", url.Values{"holder": {"V-2"}}).want(t, 200, "proxy").has(t, "You gave your vote to Jean Dupont (V-2)")
	c3.get("/proxy").has(t, "You gave your vote to Jean Dupont (V-2)")
	c.post("/proxy", url.Values{"holder": {"V-3"}}).want(t, http.StatusUnprocessableEntity, "proxy").
		has(t, "This member cannot hold your proxy")

	f.clock.Add(11 * time.Minute) // past the deadline, the sessions still live
	c.get("/proxy").want(t, 200, "proxy").has(t, "Proxies can no longer be given or withdrawn.").hasNot(t, `id="proxy-form"`)
	c.post("/proxy", url.Values{"holder": {"V-2"}}).want(t, http.StatusUnprocessableEntity, "proxy").
		has(t, "Proxies can no longer be given or withdrawn.")
	c3.get("/proxy").hasNot(t, `id="withdraw-form"`)
	c.get("/ballot").want(t, http.StatusConflict, "not-open").hasNot(t, `id="proxy-page-link"`)
	f.client(t).get("/").want(t, http.StatusConflict, "not-open") // past the deadline, no sign-in before the opening

	g := newFixture(t, fixtureOptions{proxies: &scrutinv1.Proxies{MaxPerHolder: 1, SecretRef: &scrutinv1.SecretReference{Name: "p"}}})
	cg := g.client(t)
	cg.get("/").want(t, http.StatusConflict, "not-open").hasNot(t, `id="proxy-page-link"`)
	cg.follow(cg.signIn("V-1", "camille@example.org", ""))
	if p := cg.get("/proxy"); p.status != http.StatusNotFound {
		t.Errorf("the proxy page where only the organiser declares proxies: %d", p.status)
	}
}
