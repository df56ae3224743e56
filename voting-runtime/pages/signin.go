package pages

import (
	"crypto/hmac"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/server"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// signInState is what the sign-in pages carry from one to the next, in hidden
// fields: who is signing in, where the code went, and the sealed choices of a
// voter whose session ended in the middle of the ballot.
type signInState struct {
	VoterID     string
	Draft       string
	Channel     string
	Destination string
	// Fallback: the code went by the other channel than the method's.
	Fallback bool
	// ResendAt is when a new code can be asked for (Unix seconds); display only,
	// the engine decides.
	ResendAt int64
}

func signInStateFrom(r *http.Request) signInState {
	f := r.PostForm
	st := signInState{
		VoterID: strings.TrimSpace(f.Get("voter_id")), Draft: f.Get("draft"),
		Channel: f.Get("channel"), Destination: f.Get("destination"), Fallback: f.Get("fallback") == "1",
	}
	if st.VoterID == "" {
		st.VoterID = strings.TrimSpace(r.URL.Query().Get("voter_id"))
	}
	if st.Channel != "sms" && st.Channel != "mail" {
		st.Channel = ""
	}
	st.ResendAt, _ = strconv.ParseInt(f.Get("resend_at"), 10, 64)
	return st
}

// signInData is the sign-in and credential pages' data.
type signInData struct {
	signInState
	Method     scrutinv1.AuthMethod
	FieldError string
}

// codeData is the code page's data.
type codeData struct {
	signInState
	ValidMinutes int
	// ResendIn is how many seconds before a new code can be asked for.
	ResendIn   int
	FieldError string
}

// home is the sign-in page, or the page saying the vote is not open or closed.
func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	if _, _, err := p.session(w, r); err == nil {
		http.Redirect(w, r, "/ballot", http.StatusSeeOther)
		return
	}
	switch p.en.Phase() {
	case engine.NotYetOpen:
		if !p.en.ProxyChangesOpen() {
			p.renderNotOpen(w, r)
			return
		}
		// members sign in before the opening to give (or withdraw) a proxy:
		// the ballot then says when the vote opens, with the proxy page's link
	case engine.Closed:
		p.renderClosed(w, r)
		return
	}
	if p.writeCachedSignIn(w, r) {
		return
	}
	p.renderSignIn(w, r, http.StatusOK, "signin", signInStateFrom(r), "")
}

// getSignIn is the sign-in page at its own address (where a wait page comes
// back to), with the voter id already typed when given.
func (p *Pages) getSignIn(w http.ResponseWriter, r *http.Request) {
	p.home(w, r)
}

// postSignIn: the voter typed their voter id.
func (p *Pages) postSignIn(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, p.signInBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	st := signInStateFrom(r)
	if page := r.PostForm.Get("rerender"); page != "" {
		// The language switch: show the same page again, in the other language.
		switch page {
		case "session-expired", "unknown-voter", "signed-out", "too-many-attempts", "code-expired":
		default:
			page = "signin"
		}
		if page == "too-many-attempts" || page == "code-expired" {
			p.renderNewCode(w, r, http.StatusOK, page, st)
			return
		}
		p.renderSignIn(w, r, http.StatusOK, page, st, "")
		return
	}
	p.startSignIn(w, r, st, "")
}

// postResend: the voter asks for a new code.
func (p *Pages) postResend(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, p.signInBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	st := signInStateFrom(r)
	p.startSignIn(w, r, st, "code.notice_resent")
}

// startSignIn asks the engine for a code (or, with the Credential method, shows the
// credential page) and shows where the code went, with notice (a catalog key, or
// "") on top.
func (p *Pages) startSignIn(w http.ResponseWriter, r *http.Request, st signInState, notice string) {
	if st.VoterID == "" {
		p.renderSignIn(w, r, http.StatusUnprocessableEntity, "signin", st, "signin.error_empty")
		return
	}
	start, err := p.en.StartSignIn(r.Context(), st.VoterID)
	if err != nil {
		p.signInError(w, r, err, st)
		return
	}
	if start.Method == scrutinv1.Credential {
		p.renderCredential(w, r, http.StatusOK, st, "")
		return
	}
	st.Channel, st.Destination, st.Fallback = start.Channel, start.Destination, start.Fallback
	st.ResendAt = p.now().Add(start.ResendAfter).Unix()
	p.renderCode(w, r, http.StatusOK, st, notice, "")
}

// postCode: the voter typed the code (or, with the Credential method, their
// credential).
func (p *Pages) postCode(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, p.signInBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	st := signInStateFrom(r)
	credential := p.e.Spec.Authentication.Method == scrutinv1.Credential
	if r.PostForm.Get("rerender") != "" {
		if credential {
			p.renderCredential(w, r, http.StatusOK, st, "")
		} else {
			p.renderCode(w, r, http.StatusOK, st, "", "")
		}
		return
	}
	if st.VoterID == "" {
		p.renderSignIn(w, r, http.StatusUnprocessableEntity, "signin", st, "signin.error_empty")
		return
	}
	var secret string
	if credential {
		secret = strings.TrimSpace(r.PostForm.Get("credential"))
	} else {
		// People copy "123 456" or "123-456": only the digits count.
		secret = strings.Map(func(c rune) rune {
			if c == ' ' || c == '-' || c == '.' || c == '\u00a0' {
				return -1
			}
			return c
		}, r.PostForm.Get("code"))
	}
	if secret == "" {
		if credential {
			p.renderCredential(w, r, http.StatusUnprocessableEntity, st, "credential.error_empty")
		} else {
			p.renderCode(w, r, http.StatusUnprocessableEntity, st, "", "code.error_empty")
		}
		return
	}
	// The same voter, already signed in, sending the form again (a reload).
	if sess, _, err := p.session(w, r); err == nil && sess.VoterID == st.VoterID {
		p.afterSignIn(w, r, sess, st.Draft)
		return
	}
	id, sess, err := p.en.CompleteSignIn(r.Context(), st.VoterID, secret)
	if err != nil {
		p.signInError(w, r, err, st)
		return
	}
	setCookie(w, r, server.SessionCookie, id, 0)
	p.afterSignIn(w, r, sess, st.Draft)
}

// afterSignIn takes a voter who just signed in to the ballot, or, when they bring
// back choices sealed when their session ended, to the review of those choices.
// A draft is taken from the session that sealed it, or from another session of the
// same voter once that one has ended (the voter whose session ended on the review
// page signs in again and confirms): never from a session still live elsewhere.
func (p *Pages) afterSignIn(w http.ResponseWriter, r *http.Request, sess store.Session, draft string) {
	if draft == "" {
		http.Redirect(w, r, "/ballot", http.StatusSeeOther)
		return
	}
	if !p.canVote(w, r, sess) {
		return
	}
	fields, sealedIn, err := p.seal.Open(draft, sess.VoterID, p.now())
	if err == nil && !hmac.Equal(sealedIn, sess.IDHash) {
		var ended bool
		if ended, err = p.en.SessionEnded(r.Context(), sealedIn); err != nil {
			p.internalError(w, r, err, "")
			return
		}
		if !ended {
			err = errBadDraft
		}
	}
	if err != nil {
		p.renderBallot(w, r, http.StatusOK, sess, nil, nil, "ballot.notice_draft_lost")
		return
	}
	p.reviewOrBallot(w, r, sess, fields, "review.notice_restored")
}

// postSignOut ends the session.
func (p *Pages) postSignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(server.SessionCookie); err == nil {
		if err := p.en.SignOut(r.Context(), c.Value); err != nil {
			p.internalError(w, r, err, "")
			return
		}
	}
	setCookie(w, r, server.SessionCookie, "", -1)
	p.renderSignIn(w, r, http.StatusOK, "signed-out", signInState{}, "")
}

// signInError shows the page for each sign-in error of the engine.
func (p *Pages) signInError(w http.ResponseWriter, r *http.Request, err error, st signInState) {
	var (
		resend  *engine.ResendTooSoonError
		limited *engine.RateLimitedError
		wrong   *engine.WrongCodeError
		locked  *engine.LockedOutError
		notOpen *engine.NotOpenYetError
	)
	credential := p.e.Spec.Authentication.Method == scrutinv1.Credential
	switch {
	case errors.Is(err, engine.ErrUnknownVoter):
		p.renderSignIn(w, r, http.StatusNotFound, "unknown-voter", st, "signin.error_unknown")
	case errors.Is(err, engine.ErrVoteClosed):
		p.renderClosed(w, r)
	case errors.As(err, &notOpen):
		p.renderNotOpen(w, r)
	case errors.As(err, &resend):
		secs := int(resend.RetryAfter.Seconds() + 0.999)
		st.ResendAt = p.now().Add(time.Duration(secs) * time.Second).Unix()
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if resend.NoValidCode {
			// never "it still works" of a code that no longer does
			p.renderCode(w, r, http.StatusTooManyRequests, st, "code.notice_too_soon_no_code", "")
			return
		}
		p.renderCode(w, r, http.StatusTooManyRequests, st, "code.notice_too_soon", "")
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", strconv.Itoa(limited.Seconds()))
		key := "signin.notice_rate_limited"
		if limited.ByAddress {
			key = "signin.notice_address_limited"
		}
		p.renderRateLimited(w, r, st, func(v *view) string { return v.msgN(key, limited.Seconds()) })
	case errors.As(err, &locked):
		// Too many wrong codes: say until when, in the voter's time and words.
		w.Header().Set("Retry-After", strconv.Itoa(locked.Seconds()))
		minutes := max(1, (locked.Seconds()+59)/60)
		key := "signin.notice_locked_out"
		if credential {
			key = "signin.notice_locked_out_credential" // a credential user asks for no code
		}
		notice := func(v *view) string { return v.msgN(key, minutes, v.Clock(locked.Until)) }
		if r.URL.Path == "/sign-in/code" && !credential {
			// the code no longer works: the page of a code that stopped working
			v := p.view(w, r, "too-many-attempts").withForm("newcode-form", "/sign-in")
			v.Data = &signInData{signInState: st, Method: p.e.Spec.Authentication.Method}
			v.Notice = notice(v)
			p.render(w, r, http.StatusTooManyRequests, v)
			return
		}
		p.renderRateLimited(w, r, st, notice)
	case errors.As(err, &wrong):
		if credential {
			p.renderCredentialWrong(w, r, st, wrong.AttemptsLeft)
		} else {
			p.renderCodeWrong(w, r, st, wrong.AttemptsLeft)
		}
	case errors.Is(err, engine.ErrNoPendingSignIn):
		p.renderNewCode(w, r, http.StatusGone, "code-expired", st)
	case errors.Is(err, engine.ErrDeliveryBusy):
		p.WaitPage(w, r, 5)
	case errors.Is(err, engine.ErrNoChannel):
		v := p.view(w, r, "no-channel")
		p.render(w, r, http.StatusUnprocessableEntity, v)
	default:
		p.internalError(w, r, err, st.Draft)
	}
}

// renderSignIn shows the sign-in page (name: signin, unknown-voter,
// session-expired, signed-out), with errKey under the field when not empty.
func (p *Pages) renderSignIn(w http.ResponseWriter, r *http.Request, status int, name string, st signInState, errKey string) {
	v, d := p.signInView(w, r, name, st)
	if errKey != "" {
		v.fieldError(&d.FieldError, "#voter_id", v.msg(errKey))
	}
	p.render(w, r, status, v)
}

func (p *Pages) signInView(w http.ResponseWriter, r *http.Request, name string, st signInState) (*view, *signInData) {
	v := p.view(w, r, name).withForm("signin-form", "/sign-in")
	d := &signInData{signInState: st, Method: p.e.Spec.Authentication.Method}
	v.Data = d
	return v, d
}

func (p *Pages) renderCredential(w http.ResponseWriter, r *http.Request, status int, st signInState, errKey string) {
	v, d := p.credentialView(w, r, st)
	if errKey != "" {
		v.fieldError(&d.FieldError, "#credential", v.msg(errKey))
	}
	p.render(w, r, status, v)
}

func (p *Pages) renderCredentialWrong(w http.ResponseWriter, r *http.Request, st signInState, left int) {
	v, d := p.credentialView(w, r, st)
	v.fieldError(&d.FieldError, "#credential", v.msgN("credential.error_wrong", left))
	p.render(w, r, http.StatusUnauthorized, v)
}

func (p *Pages) credentialView(w http.ResponseWriter, r *http.Request, st signInState) (*view, *signInData) {
	v := p.view(w, r, "credential").withForm("credential-form", "/sign-in/code")
	d := &signInData{signInState: st, Method: scrutinv1.Credential}
	v.Data = d
	return v, d
}

// renderRateLimited shows again the page the voter sent (sign-in, code or
// credential) with notice on top, saying how long to wait: this voter id took more
// sign-in steps in a short time than a person does, or is locked out after too
// many wrong codes.
func (p *Pages) renderRateLimited(w http.ResponseWriter, r *http.Request, st signInState, notice func(*view) string) {
	var v *view
	switch {
	case r.URL.Path == "/sign-in":
		v, _ = p.signInView(w, r, "signin", st)
	case p.e.Spec.Authentication.Method == scrutinv1.Credential:
		v, _ = p.credentialView(w, r, st)
	default:
		v, _ = p.codeView(w, r, st)
	}
	v.Notice = notice(v)
	p.render(w, r, http.StatusTooManyRequests, v)
}

// renderCode shows the code page, with a notice (noticeKey) at the top and an
// error under the field (errKey) when not empty.
func (p *Pages) renderCode(w http.ResponseWriter, r *http.Request, status int, st signInState, noticeKey, errKey string) {
	v, d := p.codeView(w, r, st)
	switch noticeKey {
	case "":
	case "code.notice_too_soon", "code.notice_too_soon_no_code":
		v.Notice = v.msgN(noticeKey, d.ResendIn)
	default:
		v.Notice = v.msg(noticeKey)
	}
	if errKey != "" {
		v.fieldError(&d.FieldError, "#code", v.msg(errKey))
	}
	p.render(w, r, status, v)
}

func (p *Pages) renderCodeWrong(w http.ResponseWriter, r *http.Request, st signInState, left int) {
	v, d := p.codeView(w, r, st)
	v.fieldError(&d.FieldError, "#code", v.msgN("code.error_wrong", left))
	p.render(w, r, http.StatusUnauthorized, v)
}

func (p *Pages) codeView(w http.ResponseWriter, r *http.Request, st signInState) (*view, *codeData) {
	v := p.view(w, r, "code").withForm("code-form", "/sign-in/code")
	d := &codeData{signInState: st, ValidMinutes: int(p.e.Spec.Authentication.CodeValidity.Minutes())}
	if st.ResendAt > 0 {
		d.ResendIn = max(0, int(time.Unix(st.ResendAt, 0).Sub(p.now()).Seconds()+0.999))
	}
	v.Data = d
	return v, d
}

// renderNewCode is the page of a code that no longer works (code-expired,
// too-many-attempts), with a button that asks for a new one.
func (p *Pages) renderNewCode(w http.ResponseWriter, r *http.Request, status int, name string, st signInState) {
	v := p.view(w, r, name).withForm("newcode-form", "/sign-in")
	v.Data = &signInData{signInState: st, Method: p.e.Spec.Authentication.Method}
	p.render(w, r, status, v)
}

// phaseData is the data of the pages about the schedule.
type phaseData struct {
	OpensAt, ClosesAt time.Time
	// ProxyLink: voters may give their vote to another member now (the
	// not-open page links to the proxy page).
	ProxyLink bool
}

// phaseData shows the schedule the ballot box follows (the store's, which an
// extend moves without restarting the pods).
func (p *Pages) phaseData() *phaseData {
	s := p.en.Schedule()
	return &phaseData{OpensAt: s.OpensAt, ClosesAt: s.ClosesAt}
}

func (p *Pages) renderNotOpen(w http.ResponseWriter, r *http.Request) {
	v := p.view(w, r, "not-open")
	d := p.phaseData()
	d.ProxyLink = p.en.ProxyChangesOpen()
	v.Data = d
	p.render(w, r, http.StatusConflict, v)
}

func (p *Pages) renderClosed(w http.ResponseWriter, r *http.Request) {
	v := p.view(w, r, "closed")
	v.Data = p.phaseData()
	p.render(w, r, http.StatusConflict, v)
}

// internalError: something failed on our side. The voter's session is kept, and
// their choices when they were sending them.
func (p *Pages) internalError(w http.ResponseWriter, r *http.Request, err error, draft string) {
	p.log.Error("A page request failed", "path", r.URL.Path, "error", err)
	v := p.view(w, r, "error")
	v.Data = &errorData{Draft: draft}
	p.render(w, r, http.StatusInternalServerError, v)
}

func (p *Pages) badRequest(w http.ResponseWriter, r *http.Request) {
	v := p.view(w, r, "error")
	v.Data = &errorData{}
	p.render(w, r, http.StatusBadRequest, v)
}

// errorData is the error pages': the choices being sent, if any, to go back to.
type errorData struct {
	Draft string
}
