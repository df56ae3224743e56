package pages

import (
	"errors"
	"net/http"
	"strings"

	"scrutin.dev/scrutin/voting-runtime/engine"
)

// The verifiable mode's board page: live from the opening, every ballot's
// tracker in arrival order, numbered, and a search by tracker. A Belenios
// tracker is the base64 of a SHA-256 (43 characters of A–Z, a–z, 0–9, + and
// /), compared exactly: its case matters.

// trackerLen is the length of a Belenios tracker; minTrackerPrefix the fewest
// characters a search by prefix takes.
const (
	trackerLen       = 43
	minTrackerPrefix = 10
)

// verifiableBoardData is the verifiable board page's.
type verifiableBoardData struct {
	boardData
	// Number is the found tracker's number on the board (1-based), when Found
	// and not Short; NumberedMatches the trackers beginning with a prefix.
	Number          int
	NumberedMatches []numberedTracker
}

type numberedTracker struct {
	N       int
	Tracker string
}

// isTrackerChar: a character of a Belenios tracker (base64).
func isTrackerChar(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}

// getVerifiableBoard is /board in the verifiable mode.
func (p *Pages) getVerifiableBoard(w http.ResponseWriter, r *http.Request) {
	trackers, err := p.en.BoardTrackers(r.Context())
	if errors.Is(err, engine.ErrBoardNotReady) {
		v := p.view(w, r, "board-not-yet")
		v.Data = &notYetData{ClosesAt: p.en.Schedule().ClosesAt, OpensAt: p.en.Schedule().OpensAt, Live: true}
		p.render(w, r, http.StatusConflict, v)
		return
	}
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	v := p.view(w, r, "board")
	d := &verifiableBoardData{boardData: boardData{Verifiable: true}}
	d.page(r, trackers)
	if d.Looked {
		findVerifiableTracker(v, d, trackers)
	}
	v.Data = d
	p.render(w, r, http.StatusOK, v)
}

// findVerifiableTracker looks for the query among the trackers: a whole
// tracker, exactly, or its first minTrackerPrefix characters at least (spaces
// ignored); a tracker may be on the board once only.
func findVerifiableTracker(v *view, d *verifiableBoardData, trackers []string) {
	q := strings.Map(func(c rune) rune {
		if c == ' ' || c == '\u00a0' {
			return -1
		}
		return c
	}, d.Query)
	if len(q) < minTrackerPrefix || len(q) > trackerLen || strings.IndexFunc(q, func(c rune) bool { return !isTrackerChar(c) }) >= 0 {
		d.Looked = false
		v.fieldError(&d.QueryError, "#tracker-query", v.msg("board.v_error_query", trackerLen, minTrackerPrefix))
		return
	}
	d.Short = len(q) < trackerLen
	for i, tr := range trackers {
		switch {
		case !d.Short && tr == q:
			d.Found, d.Number = true, i+1
			return
		case d.Short && strings.HasPrefix(tr, q) && len(d.NumberedMatches) < 10:
			d.NumberedMatches = append(d.NumberedMatches, numberedTracker{N: i + 1, Tracker: tr})
		}
	}
	d.Found = len(d.NumberedMatches) > 0
}

// getBoardCheck is /board/check: what a tracker proves, and how anyone checks
// the whole vote with belenios-tool. The verifiable mode's only.
func (p *Pages) getBoardCheck(w http.ResponseWriter, r *http.Request) {
	if !p.en.Verifiable() {
		p.notFound(w, r)
		return
	}
	v := p.view(w, r, "board-check")
	// the election's public URL when the runtime has one (the letters' URL), so the
	// command names the address voters use, whatever Host this request came with
	site := strings.TrimSuffix(p.en.PublicURL(), "/")
	if site == "" {
		site = siteURL(r)
	}
	v.Data = &boardCheckData{BoardURL: site + "/api/v1/board.bel"}
	p.render(w, r, http.StatusOK, v)
}

// boardCheckData is the check page's.
type boardCheckData struct {
	BoardURL string
}

// siteURL is this site's address as the voter reached it.
func siteURL(r *http.Request) string {
	scheme := "http"
	if overTLS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
