package pages

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/engine"
)

// scrutineerPassLifetime is how long a scrutineer stays signed in.
const scrutineerPassLifetime = 12 * time.Hour

// scrutineerData is the scrutineers' pages'.
type scrutineerData struct {
	Enabled     bool
	FieldError  string
	Voters      int64
	BallotsCast int64
	Phase       string
	UpdatedAt   time.Time
	Fields      []scrutinv1.ParticipationField
}

func (p *Pages) isScrutineer(r *http.Request) bool {
	c, err := r.Cookie(ScrutineerCookie)
	return err == nil && validPass(p.scrutKey, p.scrutTok, c.Value, p.now())
}

// scrutineerOnly admits scrutineers signed in on the token form.
func (p *Pages) scrutineerOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !p.isScrutineer(r) {
			if strings.HasSuffix(r.URL.Path, ".json") {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
				return
			}
			http.Redirect(w, r, "/scrutineer", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r)
	}
}

// getScrutineer: the token form, or the participation once signed in.
func (p *Pages) getScrutineer(w http.ResponseWriter, r *http.Request) {
	if !p.isScrutineer(r) {
		p.renderScrutineerSignIn(w, r, http.StatusOK, "")
		return
	}
	st, err := p.en.Status(r.Context())
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	v := p.view(w, r, "scrutineer")
	v.Data = &scrutineerData{
		Enabled: true, Voters: st.Voters, BallotsCast: st.BallotsCast, Phase: string(p.en.Phase()),
		UpdatedAt: p.now(), Fields: p.e.Spec.Scrutineers.ExportFields,
	}
	p.render(w, r, http.StatusOK, v)
}

func (p *Pages) renderScrutineerSignIn(w http.ResponseWriter, r *http.Request, status int, errKey string) {
	v := p.view(w, r, "scrutineer-signin")
	d := &scrutineerData{Enabled: p.scrutTok != ""}
	if errKey != "" {
		v.fieldError(&d.FieldError, "#scrutineer-token", v.msg(errKey))
	}
	v.Data = d
	p.render(w, r, status, v)
}

// postScrutineer checks the scrutineers' token and gives a signed pass in a cookie.
func (p *Pages) postScrutineer(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r, scrutineerFormBytes); err != nil {
		p.badRequest(w, r)
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if p.scrutTok == "" || subtle.ConstantTimeCompare([]byte(token), []byte(p.scrutTok)) != 1 {
		p.renderScrutineerSignIn(w, r, http.StatusUnauthorized, "scrutineer.error_token")
		return
	}
	setCookie(w, r, ScrutineerCookie, scrutineerPass(p.scrutKey, p.scrutTok, p.now().Add(scrutineerPassLifetime)),
		int(scrutineerPassLifetime.Seconds()))
	http.Redirect(w, r, "/scrutineer", http.StatusSeeOther)
}

func (p *Pages) postScrutineerSignOut(w http.ResponseWriter, r *http.Request) {
	setCookie(w, r, ScrutineerCookie, "", -1)
	http.Redirect(w, r, "/scrutineer", http.StatusSeeOther)
}

// getParticipationCSV is the export, as the API gives it to a bearer of the token.
func (p *Pages) getParticipationCSV(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="participation.csv"`)
	if err := p.en.WriteParticipation(r.Context(), w); err != nil {
		p.log.Error("Participation export failed", "error", err)
	}
}

// participationJSON is what the script reads to keep the counts live.
type participationJSON struct {
	Voters      string `json:"voters"`
	BallotsCast string `json:"ballotsCast"`
	Turnout     string `json:"turnout"`
	UpdatedAt   string `json:"updatedAt"`
	Open        bool   `json:"open"`
}

func (p *Pages) getParticipationJSON(w http.ResponseWriter, r *http.Request) {
	st, err := p.en.Status(r.Context())
	if err != nil {
		p.log.Error("Participation counts failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal"})
		return
	}
	lang := p.language(w, r)
	now := p.now().In(p.paris)
	writeJSON(w, http.StatusOK, participationJSON{
		Voters: formatInt(lang, st.Voters), BallotsCast: formatInt(lang, st.BallotsCast),
		Turnout: formatPercent(lang, st.BallotsCast, st.Voters), Open: p.en.Phase() == engine.Open,
		UpdatedAt: now.Format("15:04:05"),
	})
}
