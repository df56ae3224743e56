package pages

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/server"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// blankValue is the value of the "blank vote" choice of a question (q_ID): option
// ids cannot start with "_".
const blankValue = "_blank"

var errNoSession = errors.New("pages: not signed in")

// session returns the voter's live session and its id: errNoSession without a
// session cookie, engine.ErrSessionExpired when it has ended (the cookie is then
// cleared).
func (p *Pages) session(w http.ResponseWriter, r *http.Request) (store.Session, string, error) {
	c, err := r.Cookie(server.SessionCookie)
	if err != nil || c.Value == "" {
		return store.Session{}, "", errNoSession
	}
	s, err := p.en.Session(r.Context(), c.Value)
	if errors.Is(err, engine.ErrSessionExpired) {
		setCookie(w, r, server.SessionCookie, "", -1)
	}
	return s, c.Value, err
}

// liveSession returns the voter's live session, checked before anything of the
// request's body is read. Without one, the voter is asked to sign in again: the
// body is left unread (a draft is sealed only for a live session, so nothing is
// sealed here) and the connection closed.
func (p *Pages) liveSession(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	sess, _, err := p.session(w, r)
	if err == nil {
		return sess, true
	}
	w.Header().Set("Connection", "close")
	if errors.Is(err, engine.ErrSessionExpired) || errors.Is(err, errNoSession) {
		p.renderSignIn(w, r, http.StatusUnauthorized, "session-expired", signInState{}, "")
	} else {
		p.internalError(w, r, err, "")
	}
	return store.Session{}, false
}

// signInAgainWithDraft answers a form that carries a sealed draft (the review's)
// but no live session: the voter signs in again, the draft carried through the
// sign-in pages. It was sealed for a voter's live session, and only a session of
// that voter opens it. The body is read at the lowest priority (server.Demote):
// an anonymous client never holds a place kept for voters.
func (p *Pages) signInAgainWithDraft(w http.ResponseWriter, r *http.Request, carry func(url.Values) string) {
	if !server.Demote(w, r) {
		return
	}
	if err := parseForm(w, r, p.ballotBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	p.renderSignIn(w, r, http.StatusUnauthorized, "session-expired", signInState{Draft: carriedDraft(carry(r.PostForm))}, "")
}

// carriedDraft is a posted draft as the sign-in pages may carry it: sealed text
// (base64url), or nothing.
func carriedDraft(d string) string {
	if _, err := base64.RawURLEncoding.DecodeString(d); err != nil {
		return ""
	}
	return d
}

// sessionView is the session as the signed-in pages show it.
func (p *Pages) sessionView(sess store.Session, ret string) *sessionView {
	exp := p.en.SessionExpiry(sess)
	idle := p.e.Spec.Authentication.SessionIdleTimeout.Duration
	sv := &sessionView{
		VoterID: sess.VoterID, Expires: exp, Return: ret,
		Remaining: max(0, int(exp.Sub(p.now()).Seconds())),
	}
	if ret == "ballot" || ret == "review" {
		// Warn well before the end, never right after signing in. Once the vote
		// is cast there is nothing left to lose: no warning, no extension.
		sv.Warn = max(1, min(300, int(idle.Seconds()/4)))
	}
	return sv
}

// Minutes left, rounded up.
func (s *sessionView) Minutes() int { return (s.Remaining + 59) / 60 }

// canVote shows the page that says why the voter cannot vote now, if so. In
// the verifiable mode a voter who has voted may vote again.
func (p *Pages) canVote(w http.ResponseWriter, r *http.Request, sess store.Session) bool {
	switch p.en.Phase() {
	case engine.NotYetOpen:
		p.renderNotOpen(w, r)
		return false
	case engine.Closed:
		p.renderClosed(w, r)
		return false
	}
	if p.en.Verifiable() {
		return true // a voter may vote again: the last ballot counts
	}
	if id := mandateFor(r); id != "" && p.en.Proxies() {
		// a ballot for a grantor: the mandate must be held, and the
		// grantor's ballot not in the box yet
		pp := p.proxyPanel(r, sess)
		switch {
		case pp == nil || pp.For == nil:
			p.renderBallotFor(w, r, sess, "proxy.notice_no_mandate")
			return false
		case pp.For.Voted:
			p.renderAlreadyVoted(w, r, sess)
			return false
		}
		return true
	}
	voted, err := p.en.HasVoted(r.Context(), sess.VoterID)
	if err != nil {
		p.internalError(w, r, err, "")
		return false
	}
	if voted {
		p.renderAlreadyVoted(w, r, sess)
		return false
	}
	return true
}

func (p *Pages) renderAlreadyVoted(w http.ResponseWriter, r *http.Request, sess store.Session) {
	v := p.view(w, r, "already-voted")
	v.Session = p.sessionView(sess, "already-voted")
	v.Data = p.phaseData()
	v.Proxy = p.proxyPanel(r, sess)
	p.render(w, r, http.StatusConflict, v)
}

// proxyPanel is what a holder of proxies sees on the ballot pages: the
// mandates they hold, what became of each, and the one the page's ballot is
// for (spec.proxies); nil for a voter who holds none.
type proxyPanel struct {
	// For is the mandate the page's ballot is for; nil: the voter's own.
	For      *engine.MandateView
	OwnVoted bool
	Mandates []engine.MandateView
}

// maxMandateID bounds the voter id a form names in its field "for".
const maxMandateID = 256

// mandateFor is the grantor whose ballot the request is about: the form's
// field "for" (the ballot and review forms carry it), or the query's
// (/ballot?for=ID); "" for the voter's own.
func mandateFor(r *http.Request) string {
	id := r.PostForm.Get("for")
	if id == "" {
		id = r.URL.Query().Get("for")
	}
	if len(id) > maxMandateID {
		return ""
	}
	return id
}

// proxyPanel reads the voter's mandates; nil when the election has no proxies
// or the voter holds none. An error is logged and shows no panel: the
// voter's own ballot does not depend on it.
func (p *Pages) proxyPanel(r *http.Request, sess store.Session) *proxyPanel {
	if !p.en.Proxies() {
		return nil
	}
	ms, err := p.en.Mandates(r.Context(), sess.VoterID)
	if err != nil || len(ms) == 0 {
		if err != nil {
			p.log.Error("Could not read a voter's mandates", "error", err)
		}
		return nil
	}
	voted, err := p.en.HasVoted(r.Context(), sess.VoterID)
	if err != nil {
		p.log.Error("Could not read whether a voter voted", "error", err)
	}
	pp := &proxyPanel{OwnVoted: voted, Mandates: ms}
	if id := mandateFor(r); id != "" {
		for i := range ms {
			if ms[i].VoterID == id {
				pp.For = &ms[i]
			}
		}
	}
	return pp
}

// unknownValue stands for a choice that is no option of its question: it keeps
// the answer invalid (the engine refuses it) at a length ballotFormMax counts.
const unknownValue = "_"

// ballotFields keeps the ballot's own fields of a form, each once: q_QUESTION (an
// option of the question, blank, or unknownValue) and r_QUESTION_OPTION (the first
// rank given, "0", invalid, when longer than any rank of the question). So bounded,
// a draft of them seals to one length (ballotFormMax) whatever the choices.
func ballotFields(qs []scrutinv1.Question, f url.Values) url.Values {
	out := url.Values{}
	if id := f.Get("for"); id != "" && len(id) <= maxMandateID {
		out.Set("for", id) // the grantor the ballot is for (spec.proxies)
	}
	for _, q := range qs {
		name := "q_" + q.ID
		seen := map[string]bool{}
		for _, v := range f[name] {
			switch {
			case v == "":
				continue
			case v != blankValue && !hasOption(&q, v):
				v = unknownValue
			}
			if !seen[v] {
				seen[v] = true
				out.Add(name, v)
			}
		}
		digits := len(strconv.Itoa(len(q.Options)))
		for _, o := range q.Options {
			rank := f.Get("r_" + q.ID + "_" + o.ID)
			if len(rank) > digits {
				rank = "0"
			}
			if rank != "" {
				out.Set("r_"+q.ID+"_"+o.ID, rank)
			}
		}
	}
	return out
}

func hasOption(q *scrutinv1.Question, id string) bool {
	for _, o := range q.Options {
		if o.ID == id {
			return true
		}
	}
	return false
}

// sealFields seals a voter's choices, for their live session (its voter and the
// session itself), to carry them to the review and through signing in again; ""
// when there is nothing to keep.
func (p *Pages) sealFields(fields url.Values, sess store.Session) string {
	if len(fields) == 0 {
		return ""
	}
	s, err := p.seal.Seal(fields, sess.VoterID, sess.IDHash, p.now())
	if err != nil {
		p.log.Error("Could not seal a voter's choices", "error", err)
		return ""
	}
	return s
}

// openDraft opens a draft sealed in the live session sess: another session's
// draft, even the same voter's, is not opened (afterSignIn alone takes one from a
// session that has ended, the voter's own).
func (p *Pages) openDraft(draft string, sess store.Session) (url.Values, error) {
	fields, sealedIn, err := p.seal.Open(draft, sess.VoterID, p.now())
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(sealedIn, sess.IDHash) {
		return nil, errBadDraft
	}
	return fields, nil
}

// selection is what the voter chose for a question, as the form shows it.
type selection struct {
	Chosen map[string]bool
	Ranks  map[string]int
	Blank  bool
}

// questionError is why an answer cannot be accepted: a message key and its count.
type questionError struct {
	key string
	n   int
}

// parsedBallot is a ballot form read: the answers, the selections to show again,
// and the problems of the form itself (a rank given twice, blank and a choice).
type parsedBallot struct {
	answers ballot.Answers
	sels    map[string]*selection
	errs    map[string]questionError
}

func kindOf(q *scrutinv1.Question) scrutinv1.QuestionKind {
	if q.Kind == "" {
		return scrutinv1.SingleChoice
	}
	return q.Kind
}

// parseBallot reads the ballot form. A question neither chosen nor blank is left
// out of the answers: the engine's validation says it is not answered.
func parseBallot(qs []scrutinv1.Question, f url.Values) parsedBallot {
	pb := parsedBallot{answers: ballot.Answers{}, sels: map[string]*selection{}, errs: map[string]questionError{}}
	for i := range qs {
		q := &qs[i]
		sel := &selection{Chosen: map[string]bool{}, Ranks: map[string]int{}}
		pb.sels[q.ID] = sel
		var chosen []string
		for _, v := range f["q_"+q.ID] {
			switch v {
			case blankValue:
				sel.Blank = true
			case "":
			default:
				chosen = append(chosen, v)
			}
		}
		var tie int
		bad := false
		if kindOf(q) == scrutinv1.Ranked {
			chosen = nil
			type ranked struct {
				id   string
				rank int
			}
			var ranks []ranked
			seen := map[int]bool{}
			for _, o := range q.Options {
				s := f.Get("r_" + q.ID + "_" + o.ID)
				if s == "" {
					continue
				}
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > len(q.Options) {
					bad = true
					continue
				}
				sel.Ranks[o.ID] = n
				if seen[n] && tie == 0 {
					tie = n
				}
				seen[n] = true
				ranks = append(ranks, ranked{o.ID, n})
			}
			sort.SliceStable(ranks, func(a, b int) bool { return ranks[a].rank < ranks[b].rank })
			for _, rk := range ranks {
				chosen = append(chosen, rk.id)
			}
		} else {
			for _, c := range chosen {
				sel.Chosen[c] = true
			}
		}
		switch {
		case bad:
			pb.errs[q.ID] = questionError{key: "err.invalid"}
		case tie > 0:
			pb.errs[q.ID] = questionError{key: "err.same_rank", n: tie}
		case sel.Blank && len(chosen) > 0:
			pb.errs[q.ID] = questionError{key: "err.blank_and_choices"}
		case sel.Blank:
			pb.answers[q.ID] = []string{}
		case len(chosen) > 0:
			pb.answers[q.ID] = chosen
		}
	}
	return pb
}

// validate checks each answer with the engine's own ballot validation
// (ballot.Validate, which Cast applies), question by question so that every
// problem is shown at once, and says each in the voter's words.
func validate(qs []scrutinv1.Question, pb parsedBallot) map[string]questionError {
	errs := map[string]questionError{}
	for k, v := range pb.errs {
		errs[k] = v
	}
	for i := range qs {
		q := qs[i]
		if _, done := errs[q.ID]; done {
			continue
		}
		a, answered := pb.answers[q.ID]
		one := ballot.Answers{}
		if answered {
			one[q.ID] = a
		}
		if err := ballot.Validate([]scrutinv1.Question{q}, one); err != nil {
			errs[q.ID] = describe(&q, a, answered)
		}
	}
	return errs
}

// describe says why an answer that ballot.Validate refused cannot be accepted.
func describe(q *scrutinv1.Question, a []string, answered bool) questionError {
	verb := "choose"
	if kindOf(q) == scrutinv1.Ranked {
		verb = "rank"
	}
	minC, maxC := max(1, int(q.MinChoices)), int(q.EffectiveMaxChoices())
	switch {
	case !answered && q.AllowBlank:
		return questionError{key: "err.not_answered_blank"}
	case !answered:
		return questionError{key: "err.not_answered"}
	case len(a) == 0:
		return questionError{key: "err.blank_not_allowed"}
	case len(a) < minC:
		return questionError{key: "err.too_few." + verb, n: minC}
	case len(a) > maxC:
		return questionError{key: "err.too_many." + verb, n: maxC}
	default:
		return questionError{key: "err.invalid"}
	}
}

// ballotData is the ballot page's.
type ballotData struct {
	Questions []questionView
	// PadTo is the length the script pads the ballot form's request to, with
	// its pad field, whatever the choices (ballotFormMax and room for the
	// language and session buttons' fields).
	PadTo int
}

type questionView struct {
	ID, Prompt string
	Kind       string
	Options    []scrutinv1.Option
	AllowBlank bool
	Number     int
	Total      int
	Min, Max   int
	Sel        *selection
	Error      string
	// First is the id of the question's first field (the error summary links
	// to it).
	First string
	// Verifiable holds the messages the verifiable ballot page's script shows
	// when the choices are out of the question's bounds (nil otherwise).
	Verifiable *boundsMessages
}

// renderBallot shows the ballot with the voter's selections and the problems
// found (both may be nil).
func (p *Pages) renderBallot(w http.ResponseWriter, r *http.Request, status int, sess store.Session,
	sels map[string]*selection, errs map[string]questionError, noticeKey string) {
	if p.en.Verifiable() {
		// the choices are made and encrypted on the voter's device
		p.renderVerifiableBallot(w, r, status, sess, noticeKey)
		return
	}
	v := p.view(w, r, "ballot").withForm("ballot-form", "/ballot")
	v.Session = p.sessionView(sess, "ballot")
	v.Proxy = p.proxyPanel(r, sess)
	if noticeKey != "" {
		v.Notice = v.noticeFor(noticeKey)
	}
	qs := p.en.Questions()
	d := &ballotData{PadTo: p.formMax + 64}
	for i := range qs {
		q := &qs[i]
		qv := questionView{
			ID: q.ID, Prompt: q.Prompt, Kind: string(kindOf(q)), Options: q.Options, AllowBlank: q.AllowBlank,
			Number: i + 1, Total: len(qs), Min: max(1, int(q.MinChoices)), Max: int(q.EffectiveMaxChoices()),
			Sel: sels[q.ID],
		}
		if qv.Sel == nil {
			qv.Sel = &selection{}
		}
		prefix := "q_"
		if qv.Kind == string(scrutinv1.Ranked) {
			prefix = "r_"
		}
		if len(q.Options) > 0 {
			qv.First = prefix + q.ID + "_" + q.Options[0].ID
		}
		if e, ok := errs[q.ID]; ok {
			if e.n > 0 {
				qv.Error = v.msgN(e.key, e.n)
			} else {
				qv.Error = v.msg(e.key)
			}
			v.Errors = append(v.Errors, summaryError{Href: "#" + qv.First, Text: v.msg("ballot.summary_item", qv.Number, qv.Error)})
		}
		d.Questions = append(d.Questions, qv)
	}
	v.Data = d
	p.render(w, r, status, v)
}

// reviewData is the review page's.
type reviewData struct {
	Draft string
	Items []reviewItem
}

type reviewItem struct {
	Number int
	ID     string
	Prompt string
	Kind   string
	Blank  bool
	Labels []string
}

func (p *Pages) renderReview(w http.ResponseWriter, r *http.Request, sess store.Session, answers ballot.Answers, draft, noticeKey string) {
	v := p.view(w, r, "review").withForm("review-form", "/ballot/change")
	v.Session = p.sessionView(sess, "review")
	v.Proxy = p.proxyPanel(r, sess)
	if noticeKey != "" {
		v.Notice = v.noticeFor(noticeKey)
	}
	v.Data = p.reviewData(answers, draft)
	body, err := p.execute(v)
	if err == nil {
		body, err = p.padReview(v, body, draft)
	}
	if err != nil {
		p.renderFailed(w, v, err)
		return
	}
	p.write(w, http.StatusOK, body)
}

func (p *Pages) reviewData(answers ballot.Answers, draft string) *reviewData {
	qs := p.en.Questions()
	d := &reviewData{Draft: draft}
	for i := range qs {
		q := &qs[i]
		it := reviewItem{Number: i + 1, ID: q.ID, Prompt: q.Prompt, Kind: string(kindOf(q))}
		a := answers[q.ID]
		it.Blank = len(a) == 0
		for _, id := range a {
			for _, o := range q.Options {
				if o.ID == id {
					it.Labels = append(it.Labels, o.Label)
				}
			}
		}
		d.Items = append(d.Items, it)
	}
	return d
}

// reviewPad is the least padding of a review page: an HTML comment.
const reviewPad = 16

// padReview pads the review page body of v to one length whatever the choices: the
// length of the same page (same voter, language, draft's length) showing the
// longest answers the election allows, and reviewPad more, made up by an HTML
// comment at its end. An observer of the encrypted traffic learns the page's
// length, and so nothing of the choices from it.
func (p *Pages) padReview(v *view, body []byte, draft string) ([]byte, error) {
	longest, err := p.longestAnswers(v)
	if err != nil {
		return nil, err
	}
	lv := *v
	lv.Data = p.reviewData(longest, draft)
	top, err := p.execute(&lv)
	if err != nil {
		return nil, err
	}
	fill := len(top) + reviewPad - len(body) - len("<!---->\n")
	if fill < 0 {
		return nil, fmt.Errorf("a review page is longer (%d bytes) than the longest (%d)", len(body), len(top))
	}
	body = append(body, "<!--"...)
	body = append(body, strings.Repeat(" ", fill)...)
	return append(body, "-->\n"...), nil
}

// longestAnswers are the answers whose review page is the longest in v's language:
// for each question, of blank, its longest option alone, and as many of its
// longest options as it allows, the one its part of the page is the longest with
// (each question's part depends on its answer alone). Kept by language.
func (p *Pages) longestAnswers(v *view) (ballot.Answers, error) {
	if a, ok := p.longest.Load(v.Lang); ok {
		return a.(ballot.Answers), nil
	}
	qs := p.en.Questions()
	longest := ballot.Answers{}
	for i := range qs {
		q := &qs[i]
		byLength := make([]scrutinv1.Option, len(q.Options))
		copy(byLength, q.Options)
		sort.SliceStable(byLength, func(a, b int) bool {
			return len(html.EscapeString(byLength[a].Label)) > len(html.EscapeString(byLength[b].Label))
		})
		ids := func(n int) []string {
			out := []string{}
			for _, o := range byLength[:min(n, len(byLength))] {
				out = append(out, o.ID)
			}
			return out
		}
		best := -1
		for _, candidate := range [][]string{{}, ids(1), ids(int(q.EffectiveMaxChoices()))} {
			lv := *v
			lv.Data = p.reviewData(ballot.Answers{q.ID: candidate}, "")
			page, err := p.execute(&lv)
			if err != nil {
				return nil, err
			}
			if len(page) > best {
				best, longest[q.ID] = len(page), candidate
			}
		}
	}
	p.longest.Store(v.Lang, longest)
	return longest, nil
}

// reviewOrBallot shows the review of the choices in fields, or the ballot with
// its problems.
func (p *Pages) reviewOrBallot(w http.ResponseWriter, r *http.Request, sess store.Session, fields url.Values, noticeKey string) {
	qs := p.en.Questions()
	pb := parseBallot(qs, fields)
	if errs := validate(qs, pb); len(errs) > 0 {
		p.renderBallot(w, r, http.StatusUnprocessableEntity, sess, pb.sels, errs, "")
		return
	}
	draft := p.sealFields(fields, sess)
	if draft == "" && len(qs) > 0 {
		p.internalError(w, r, errors.New("the choices could not be sealed"), "")
		return
	}
	p.renderReview(w, r, sess, pb.answers, draft, noticeKey)
}

// getBallot shows the ballot.
func (p *Pages) getBallot(w http.ResponseWriter, r *http.Request) {
	sess, _, err := p.session(w, r)
	switch {
	case errors.Is(err, errNoSession):
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	case errors.Is(err, engine.ErrSessionExpired):
		p.renderSignIn(w, r, http.StatusUnauthorized, "session-expired", signInState{}, "")
		return
	case err != nil:
		p.internalError(w, r, err, "")
		return
	}
	if p.en.Verifiable() {
		p.getVerifiableBallot(w, r, sess)
		return
	}
	if !p.canVote(w, r, sess) {
		return
	}
	p.renderBallot(w, r, http.StatusOK, sess, nil, nil, "")
}

// postBallot: the voter sends the ballot; they are shown the review of their
// choices, or the ballot again with what to correct. The session is checked first:
// without one, nothing of the form is read, nothing is sealed.
func (p *Pages) postBallot(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.liveSession(w, r)
	if !ok {
		return
	}
	if err := parseForm(w, r, p.ballotBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	fields := ballotFields(p.en.Questions(), r.PostForm)
	if r.PostForm.Get("rerender") != "" {
		p.renderBallot(w, r, http.StatusOK, sess, parseBallot(p.en.Questions(), fields).sels, nil, "")
		return
	}
	if p.en.Verifiable() {
		// plain answers are refused: the ballot is encrypted on the voter's
		// device (a voter who has voted may vote again)
		if p.canVote(w, r, sess) {
			p.renderVerifiableBallot(w, r, http.StatusUnprocessableEntity, sess, "vb.notice_plain")
		}
		return
	}
	if !p.canVote(w, r, sess) {
		return
	}
	p.reviewOrBallot(w, r, sess, fields, "")
}

// draftPost starts a post that carries the sealed draft of the choices (change,
// confirm): a live session that may vote (checked before the form is read), the
// form, and the draft opened for the session's voter; when the draft cannot be
// opened (too old, tampered with, another voter's or another session's), the voter gets the ballot
// again with a notice. Without a live session, the voter signs in again with the
// draft. ok is false once an answer was written.
func (p *Pages) draftPost(w http.ResponseWriter, r *http.Request) (store.Session, url.Values, bool) {
	sess, _, err := p.session(w, r)
	switch {
	case errors.Is(err, engine.ErrSessionExpired) || errors.Is(err, errNoSession):
		p.signInAgainWithDraft(w, r, func(f url.Values) string { return f.Get("draft") })
		return store.Session{}, nil, false
	case err != nil:
		w.Header().Set("Connection", "close")
		p.internalError(w, r, err, "")
		return store.Session{}, nil, false
	}
	if err := parseForm(w, r, p.ballotBytes); err != nil {
		p.badRequest(w, r)
		return store.Session{}, nil, false
	}
	if !p.canVote(w, r, sess) {
		return store.Session{}, nil, false
	}
	fields, derr := p.openDraft(r.PostForm.Get("draft"), sess)
	if derr != nil {
		p.renderBallot(w, r, http.StatusOK, sess, nil, nil, "ballot.notice_draft_lost")
		return store.Session{}, nil, false
	}
	return sess, fields, true
}

// postChange: back from the review to the ballot, the choices kept (or, for the
// language switch of the review page, the review again).
func (p *Pages) postChange(w http.ResponseWriter, r *http.Request) {
	sess, fields, ok := p.draftPost(w, r)
	if !ok {
		return
	}
	if r.PostForm.Get("rerender") == "review" {
		p.reviewOrBallot(w, r, sess, fields, "")
		return
	}
	p.renderBallot(w, r, http.StatusOK, sess, parseBallot(p.en.Questions(), fields).sels, nil, "")
}

// receiptData is the receipt page's.
type receiptData struct {
	Tracker, Short string
	ClosesAt       time.Time
}

// postConfirm casts the ballot.
func (p *Pages) postConfirm(w http.ResponseWriter, r *http.Request) {
	sess, fields, ok := p.draftPost(w, r)
	if !ok {
		return
	}
	qs := p.en.Questions()
	pb := parseBallot(qs, fields)
	if r.PostForm.Get("rerender") != "" {
		// Never cast on anything but the confirm button.
		p.reviewOrBallot(w, r, sess, fields, "")
		return
	}
	if len(pb.errs) > 0 {
		p.renderBallot(w, r, http.StatusUnprocessableEntity, sess, pb.sels, pb.errs, "")
		return
	}
	var tracker string
	var err error
	if id := fields.Get("for"); id != "" {
		// the sealed draft says whose ballot it is: the form's own field
		// only shows it
		r.PostForm.Set("for", id)
		tracker, err = p.en.CastFor(r.Context(), sess.VoterID, id, pb.answers)
	} else {
		r.PostForm.Del("for")
		tracker, err = p.en.Cast(r.Context(), sess.VoterID, pb.answers)
	}
	var (
		invalid *ballot.Error
		notOpen *engine.NotOpenYetError
	)
	switch {
	case err == nil:
	case errors.Is(err, engine.ErrNoMandate):
		p.renderBallotFor(w, r, sess, "proxy.notice_no_mandate")
		return
	case errors.As(err, &invalid):
		errs := validate(qs, pb)
		p.renderBallot(w, r, http.StatusUnprocessableEntity, sess, pb.sels, errs, "ballot.notice_invalid")
		return
	case errors.Is(err, engine.ErrAlreadyVoted):
		p.renderAlreadyVoted(w, r, sess)
		return
	case errors.Is(err, engine.ErrEncryptedOnly):
		p.renderBallot(w, r, http.StatusUnprocessableEntity, sess, pb.sels, nil, "vb.notice_plain")
		return
	case errors.As(err, &notOpen):
		p.renderNotOpen(w, r)
		return
	case errors.Is(err, engine.ErrVoteClosed):
		p.renderClosed(w, r)
		return
	default:
		p.internalError(w, r, err, r.PostForm.Get("draft"))
		return
	}
	p.renderReceipt(w, r, sess, tracker)
}

func (p *Pages) renderReceipt(w http.ResponseWriter, r *http.Request, sess store.Session, tracker string) {
	v := p.view(w, r, "receipt").withForm("receipt-form", "/receipt")
	v.Session = p.sessionView(sess, "receipt")
	v.Proxy = p.proxyPanel(r, sess)
	v.Data = &receiptData{Tracker: tracker, Short: ballot.ShortTracker(tracker), ClosesAt: p.en.Schedule().ClosesAt}
	p.render(w, r, http.StatusOK, v)
}

var trackerPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// postReceipt shows the receipt again (the language switch of the receipt page),
// to a voter whose ballot is in the box. The tracker is the voter's own, from
// their page: nothing links it to them on the server.
func (p *Pages) postReceipt(w http.ResponseWriter, r *http.Request) {
	sess, _, err := p.session(w, r)
	if err != nil {
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err := parseForm(w, r, signInFormBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	voted, err := p.en.HasVoted(r.Context(), sess.VoterID)
	tracker := r.PostForm.Get("tracker")
	switch {
	case err != nil:
		p.internalError(w, r, err, "")
	case !voted || !trackerPattern.MatchString(tracker):
		http.Redirect(w, r, "/ballot", http.StatusSeeOther)
	default:
		p.renderReceipt(w, r, sess, tracker)
	}
}

// extendJSON answers the script's "stay signed in".
type extendJSON struct {
	ExpiresAt        string `json:"expiresAt,omitempty"`
	ExpiresText      string `json:"expiresText,omitempty"`
	RemainingSeconds int    `json:"remainingSeconds"`
	Error            string `json:"error,omitempty"`
}

// postExtend extends the session: the expiry warning's button. The button sends
// the page's own form, so the page comes back as it was; the script sends it
// alone and reads JSON.
func (p *Pages) postExtend(w http.ResponseWriter, r *http.Request) {
	wantsJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	// The session first, before anything of the form is read.
	var (
		sess store.Session
		err  = error(engine.ErrSessionExpired)
	)
	if c, cerr := r.Cookie(server.SessionCookie); cerr == nil && c.Value != "" {
		sess, err = p.en.ExtendSession(r.Context(), c.Value)
	}
	if err != nil {
		w.Header().Set("Connection", "close")
		if wantsJSON {
			w.Header().Set("Cache-Control", "no-store")
			status, code := http.StatusUnauthorized, "session-expired"
			if !errors.Is(err, engine.ErrSessionExpired) {
				p.log.Error("Could not extend a session", "error", err)
				status, code = http.StatusInternalServerError, "internal"
			}
			writeJSON(w, status, extendJSON{Error: code})
			return
		}
		if !errors.Is(err, engine.ErrSessionExpired) {
			p.internalError(w, r, err, "")
			return
		}
		setCookie(w, r, server.SessionCookie, "", -1)
		// The review's draft is carried; the ballot's choices are not sealed
		// without a live session.
		p.signInAgainWithDraft(w, r, func(f url.Values) string {
			if f.Get("return") == "review" {
				return f.Get("draft")
			}
			return ""
		})
		return
	}
	exp := p.en.SessionExpiry(sess)
	if wantsJSON {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, extendJSON{
			ExpiresAt: exp.UTC().Format(time.RFC3339), ExpiresText: formatClock(p.language(w, r), exp, p.paris),
			RemainingSeconds: max(0, int(exp.Sub(p.now()).Seconds())),
		})
		return
	}
	if err := parseForm(w, r, p.ballotBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	switch r.PostForm.Get("return") {
	case "ballot":
		if !p.canVote(w, r, sess) {
			return
		}
		qs := p.en.Questions()
		p.renderBallot(w, r, http.StatusOK, sess, parseBallot(qs, ballotFields(qs, r.PostForm)).sels, nil, "session.notice_extended")
	case "review":
		if !p.canVote(w, r, sess) {
			return
		}
		fields, derr := p.openDraft(r.PostForm.Get("draft"), sess)
		if derr != nil {
			p.renderBallot(w, r, http.StatusOK, sess, nil, nil, "ballot.notice_draft_lost")
			return
		}
		pb := parseBallot(p.en.Questions(), fields)
		p.renderReview(w, r, sess, pb.answers, r.PostForm.Get("draft"), "session.notice_extended")
	default:
		http.Redirect(w, r, "/ballot", http.StatusSeeOther)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// renderBallotFor shows the voter's own ballot with a notice: the mandate a
// request named is not theirs to use.
func (p *Pages) renderBallotFor(w http.ResponseWriter, r *http.Request, sess store.Session, noticeKey string) {
	r.PostForm.Del("for")
	q := r.URL.Query()
	q.Del("for")
	r.URL.RawQuery = q.Encode()
	voted, err := p.en.HasVoted(r.Context(), sess.VoterID)
	switch {
	case err != nil:
		p.internalError(w, r, err, "")
	case voted:
		p.renderAlreadyVoted(w, r, sess)
	default:
		p.renderBallot(w, r, http.StatusForbidden, sess, nil, nil, noticeKey)
	}
}
