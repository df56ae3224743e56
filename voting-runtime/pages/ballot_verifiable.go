package pages

import (
	"net/http"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// The verifiable mode's ballot page (templates/ballot-verifiable.html and
// static/verifiable.js). The voter's device does everything in four steps: it
// checks the Belenios credential from the letter (its checksum, then that it
// is the signed-in voter's, against the public credential the page carries),
// takes the choices and checks them against each question's bounds, shows
// them for review, then encrypts the ballot (static/belenios.js) and casts it
// with POST /api/v1/ballot {"belenios": …}. Neither the choices nor the
// credential leave the device: no form of the page holds them, and the
// credential's field has no name. Without JavaScript (or without what the
// encryption needs) the page says how else to vote.

// verifiableBallotData is the verifiable ballot page's.
type verifiableBallotData struct {
	Questions []questionView
	// PublicCredential is the signed-in voter's public credential (decimal):
	// the device checks the credential typed in against it.
	PublicCredential string
	VoterID          string
	// SiteURL is this site's address, for the command-line client.
	SiteURL string
	// Revote: the voter has voted already; a new ballot replaces the earlier one.
	Revote bool
}

// boundsMessages are a question's messages for the choices the device refuses,
// under the question and in the error summary: no answer, too few, too many,
// blank with a choice.
type boundsMessages struct {
	None, Few, Many, Both             string
	SumNone, SumFew, SumMany, SumBoth string
}

// getVerifiableBallot shows the verifiable ballot page, to a voter who has
// voted too (with a notice: a new ballot replaces the earlier one).
func (p *Pages) getVerifiableBallot(w http.ResponseWriter, r *http.Request, sess store.Session) {
	if !p.canVote(w, r, sess) {
		return
	}
	p.renderVerifiableBallot(w, r, http.StatusOK, sess, "")
}

// renderVerifiableBallot renders the verifiable ballot page with a notice
// (none when noticeKey is ""; the re-vote notice for a voter who has voted).
func (p *Pages) renderVerifiableBallot(w http.ResponseWriter, r *http.Request, status int, sess store.Session, noticeKey string) {
	pub, err := p.en.PublicCredential(r.Context(), sess.VoterID)
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	voted, err := p.en.HasVoted(r.Context(), sess.VoterID)
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	v := p.view(w, r, "ballot-verifiable")
	v.Session = p.sessionView(sess, "ballot")
	v.Scripts = []string{"/static/belenios.js?v=" + p.staticVer, "/static/verifiable.js?v=" + p.staticVer}
	if noticeKey == "" && voted {
		noticeKey = "vb.notice_revote"
	}
	if noticeKey != "" {
		v.Notice = v.noticeFor(noticeKey)
	}
	d := &verifiableBallotData{PublicCredential: pub, VoterID: sess.VoterID, SiteURL: siteURL(r), Revote: voted}
	qs := p.en.Questions()
	for i := range qs {
		q := &qs[i]
		qv := questionView{
			ID: q.ID, Prompt: q.Prompt, Kind: string(kindOf(q)), Options: q.Options, AllowBlank: q.AllowBlank,
			Number: i + 1, Total: len(qs), Min: max(1, int(q.MinChoices)), Max: int(q.EffectiveMaxChoices()),
			Sel: &selection{},
		}
		if len(q.Options) > 0 {
			qv.First = "q_" + q.ID + "_" + q.Options[0].ID
		}
		qv.Verifiable = boundsOf(v, &qv)
		d.Questions = append(d.Questions, qv)
	}
	v.Data = d
	p.render(w, r, status, v)
}

// boundsOf is a question's messages for choices out of its bounds, in the
// words the plain ballot page uses.
func boundsOf(v *view, qv *questionView) *boundsMessages {
	none := "err.not_answered"
	if qv.AllowBlank {
		none = "err.not_answered_blank"
	}
	verb := "choose"
	if qv.Kind == string(scrutinv1.Ranked) {
		verb = "rank"
	}
	b := &boundsMessages{
		None: v.msg(none), Few: v.msgN("err.too_few."+verb, qv.Min), Many: v.msgN("err.too_many."+verb, qv.Max),
		Both: v.msg("err.blank_and_choices"),
	}
	sum := func(m string) string { return v.msg("ballot.summary_item", qv.Number, m) }
	b.SumNone, b.SumFew, b.SumMany, b.SumBoth = sum(b.None), sum(b.Few), sum(b.Many), sum(b.Both)
	return b
}
