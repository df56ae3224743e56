package pages

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/engine"
)

// boardPageSize is how many trackers a page of the board lists.
const boardPageSize = 500

// boardData is the bulletin board's.
type boardData struct {
	Total    int
	Total64  int64
	Start    int
	Trackers []string
	Page     int
	Pages    int
	PrevHref string
	NextHref string
	// Query is the tracker looked for; Found says whether it is on the board
	// (Matches: the full trackers that begin with a short one).
	Query   string
	Looked  bool
	Found   bool
	Short   bool
	Matches []string
	// QueryError is a message when the query is not a tracker.
	QueryError string
	// Verifiable: the verifiable mode's board (verifiableBoardData).
	Verifiable bool
}

// notYetData is the data of the board and results pages before they exist.
type notYetData struct {
	ClosesAt time.Time
	Closed   bool
	// Live: the verifiable mode's board, published from OpensAt.
	Live    bool
	OpensAt time.Time
}

// getBoard is the public bulletin board: every tracker once the vote is closed,
// and a form that finds a voter's own.
func (p *Pages) getBoard(w http.ResponseWriter, r *http.Request) {
	if p.en.Verifiable() {
		p.getVerifiableBoard(w, r)
		return
	}
	trackers, err := p.en.Board(r.Context())
	if errors.Is(err, engine.ErrNotClosed) {
		v := p.view(w, r, "board-not-yet")
		v.Data = &notYetData{ClosesAt: p.en.Schedule().ClosesAt}
		p.render(w, r, http.StatusConflict, v)
		return
	}
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	if !sort.StringsAreSorted(trackers) {
		trackers = append([]string(nil), trackers...)
		sort.Strings(trackers)
	}
	v := p.view(w, r, "board")
	d := &boardData{}
	d.page(r, trackers)
	if d.Looked {
		p.findTracker(v, d, trackers)
	}
	v.Data = d
	p.render(w, r, http.StatusOK, v)
}

// findTracker looks for the query among the trackers: a full tracker (64
// characters) or a short one (its first 12, as on the receipt), with or without
// dashes and spaces, in any case.
func (p *Pages) findTracker(v *view, d *boardData, trackers []string) {
	norm := strings.Map(func(c rune) rune {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			return c
		case c >= 'A' && c <= 'F':
			return c + ('a' - 'A')
		case c == '-' || c == ' ' || c == '\u00a0':
			return -1
		}
		return '?'
	}, d.Query)
	if strings.Contains(norm, "?") || len(norm) < 12 || len(norm) > 64 {
		d.Looked = false
		v.fieldError(&d.QueryError, "#tracker-query", v.msg("board.error_query"))
		return
	}
	i := sort.SearchStrings(trackers, norm)
	if len(norm) == 64 {
		d.Found = i < len(trackers) && trackers[i] == norm
		return
	}
	d.Short = true
	for ; i < len(trackers) && strings.HasPrefix(trackers[i], norm) && len(d.Matches) < 10; i++ {
		d.Matches = append(d.Matches, trackers[i])
	}
	d.Found = len(d.Matches) > 0
}

// resultsData is the results page's.
type resultsData struct {
	Questions []resultView
}

type resultView struct {
	Number  int
	ID      string
	Prompt  string
	Ranked  bool
	Rows    []resultRow
	Blank   int64
	Winners []string
	// Places is the ranking of a Ranked question, best first: tied options
	// share a place (1, 2, 2, 4); Ties says whether any do.
	Places []rankPlace
	Ties   bool
}

type rankPlace struct {
	Label string
	Place int
	Tied  bool
}

type resultRow struct {
	ID, Label string
	Votes     int64
	Winner    bool
}

// getResults shows the results once counted.
func (p *Pages) getResults(w http.ResponseWriter, r *http.Request) {
	results, err := p.en.Results(r.Context())
	if errors.Is(err, engine.ErrNotTallied) {
		v := p.view(w, r, "results-not-yet")
		v.Data = &notYetData{ClosesAt: p.en.Schedule().ClosesAt, Closed: p.en.Phase() == engine.Closed}
		if v.Data.(*notYetData).Closed {
			// Counting takes moments: come back by itself.
			v.Refresh = refreshMeta(30, "", false)
		}
		p.render(w, r, http.StatusConflict, v)
		return
	}
	if err != nil {
		p.internalError(w, r, err, "")
		return
	}
	qs := p.en.Questions()
	d := &resultsData{}
	for i := range qs {
		q := &qs[i]
		var res *scrutinv1.QuestionResult
		for j := range results {
			if results[j].QuestionID == q.ID {
				res = &results[j]
			}
		}
		if res == nil {
			continue
		}
		label := func(id string) string {
			for _, o := range q.Options {
				if o.ID == id {
					return o.Label
				}
			}
			return id
		}
		rv := resultView{Number: i + 1, ID: q.ID, Prompt: q.Prompt, Ranked: kindOf(q) == scrutinv1.Ranked, Blank: res.Blank}
		for _, o := range res.Options {
			rv.Rows = append(rv.Rows, resultRow{ID: o.ID, Label: label(o.ID), Votes: o.Votes, Winner: contains(res.Winners, o.ID)})
		}
		for _, id := range res.Winners {
			rv.Winners = append(rv.Winners, label(id))
		}
		groups := res.RankingGroups
		if len(groups) == 0 { // counted before results had groups
			for _, id := range res.Ranking {
				groups = append(groups, []string{id})
			}
		}
		place := 1
		for _, g := range groups {
			for _, id := range g {
				rv.Places = append(rv.Places, rankPlace{Label: label(id), Place: place, Tied: len(g) > 1})
			}
			rv.Ties = rv.Ties || len(g) > 1
			place += len(g)
		}
		d.Questions = append(d.Questions, rv)
	}
	v := p.view(w, r, "results")
	v.Data = d
	p.render(w, r, http.StatusOK, v)
}

// page fills d with the page of trackers the request asks for (?page=N, clamped to
// the pages there are), its links to the pages before and after, and the query
// (?tracker=) when there is one (d.Looked).
func (d *boardData) page(r *http.Request, trackers []string) {
	d.Total, d.Total64 = len(trackers), int64(len(trackers))
	d.Pages = max(1, (len(trackers)+boardPageSize-1)/boardPageSize)
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	d.Trackers = trackers[(d.Page-1)*boardPageSize : min(len(trackers), d.Page*boardPageSize)]
	d.Start = (d.Page-1)*boardPageSize + 1
	if d.Page > 1 {
		d.PrevHref = "/board?page=" + strconv.Itoa(d.Page-1)
	}
	if d.Page < d.Pages {
		d.NextHref = "/board?page=" + strconv.Itoa(d.Page+1)
	}
	if q, ok := r.URL.Query()["tracker"]; ok {
		d.Looked = true
		d.Query = strings.TrimSpace(q[0])
	}
}
