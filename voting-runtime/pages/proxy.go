package pages

import (
	"errors"
	"net/http"
	"strings"

	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// The voters' own proxies (spec.proxies.givenBy: Voters): until the deadline a
// signed-in member names the member who will vote for them, or withdraws the
// proxy they gave. The engine applies the rules (the cap, no chain, one proxy
// a member) and tells both members by their own channel.

// proxyData is the proxy page's.
type proxyData struct {
	// VoterProxies: the proxy the voter gave, those they hold, and whether
	// they may change theirs now.
	engine.VoterProxies
	Max int
	// Holder is what the voter typed; FieldError what is wrong with it.
	Holder, FieldError string
}

// proxySession is the signed-in voter of a proxy page; without a session the
// voter goes to the sign-in, and where voters give no proxies the page does
// not exist.
func (p *Pages) proxySession(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	if !p.en.VotersGiveProxies() {
		p.notFound(w, r)
		return store.Session{}, false
	}
	sess, _, err := p.session(w, r)
	switch {
	case errors.Is(err, errNoSession):
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return store.Session{}, false
	case errors.Is(err, engine.ErrSessionExpired):
		p.renderSignIn(w, r, http.StatusUnauthorized, "session-expired", signInState{}, "")
		return store.Session{}, false
	case err != nil:
		p.internalError(w, r, err, "")
		return store.Session{}, false
	}
	return sess, true
}

func (p *Pages) renderProxy(w http.ResponseWriter, r *http.Request, status int, sess store.Session, holder, errKey, noticeKey string) {
	v := p.view(w, r, "proxy").withForm("proxy-form", "/proxy")
	v.Session = p.sessionView(sess, "proxy")
	if noticeKey != "" {
		v.Notice = v.noticeFor(noticeKey)
	}
	vp, err := p.en.ProxiesOf(r.Context(), sess.VoterID)
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	d := &proxyData{VoterProxies: vp, Max: int(p.e.Spec.Proxies.MaxPerHolder), Holder: holder}
	if errKey != "" {
		d.FieldError = v.msg(errKey)
		v.Errors = append(v.Errors, summaryError{Href: "#holder", Text: d.FieldError})
	}
	v.Data = d
	p.render(w, r, status, v)
}

// getProxy shows the voter's proxy: the one they gave, or the form to give one.
func (p *Pages) getProxy(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.proxySession(w, r)
	if !ok {
		return
	}
	p.renderProxy(w, r, http.StatusOK, sess, "", "", "")
}

// proxyErrors say in the voter's words why a proxy was refused.
var proxyErrors = []struct {
	err error
	key string
}{
	{engine.ErrUnknownHolder, "proxypage.err_unknown"},
	{engine.ErrProxyChain, "proxypage.err_chain"},
	{engine.ErrProxyCap, "proxypage.err_cap"},
	{engine.ErrProxyGiven, "proxypage.err_given"},
	{engine.ErrProxyDeadline, "proxypage.err_deadline"},
}

// postProxy gives the voter's proxy to the member they named.
func (p *Pages) postProxy(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.proxySession(w, r)
	if !ok {
		return
	}
	if err := parseForm(w, r, signInFormBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	holder := strings.TrimSpace(r.PostForm.Get("holder"))
	if r.PostForm.Get("rerender") != "" {
		p.renderProxy(w, r, http.StatusOK, sess, holder, "", "")
		return
	}
	if holder == "" || len(holder) > maxMandateID {
		p.renderProxy(w, r, http.StatusUnprocessableEntity, sess, "", "proxypage.err_empty", "")
		return
	}
	err := p.en.GiveProxy(r.Context(), sess.VoterID, holder)
	for _, e := range proxyErrors {
		if errors.Is(err, e.err) {
			p.renderProxy(w, r, http.StatusUnprocessableEntity, sess, holder, e.key, "")
			return
		}
	}
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	p.renderProxy(w, r, http.StatusOK, sess, "", "", "proxypage.notice_given")
}

// postProxyWithdraw withdraws the proxy the voter gave.
func (p *Pages) postProxyWithdraw(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.proxySession(w, r)
	if !ok {
		return
	}
	err := p.en.WithdrawProxy(r.Context(), sess.VoterID)
	switch {
	case errors.Is(err, engine.ErrProxyDeadline):
		p.renderProxy(w, r, http.StatusConflict, sess, "", "", "proxypage.err_deadline")
	case errors.Is(err, engine.ErrNoProxyGiven):
		p.renderProxy(w, r, http.StatusOK, sess, "", "", "")
	case err != nil:
		p.internalError(w, r, err, "")
	default:
		p.renderProxy(w, r, http.StatusOK, sess, "", "", "proxypage.notice_withdrawn")
	}
}
