package runtime

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

var (
	padToRe = regexp.MustCompile(`<form id="ballot-form"[^>]* data-pad-to="(\d+)"`)
	draftRe = regexp.MustCompile(`<input type="hidden" name="draft" value="([^"]*)">`)
)

// pagePost is the body the ballot page sends for fields (each select is sent, ""
// when not ranked), padded as the page's script pads it (static/app.js,
// padBallot): its pad field makes up the difference to the form's data-pad-to.
func pagePost(fields url.Values, padTo int) string {
	body := fields.Encode()
	fill := padTo - len(body) - len("&pad=")
	return body + "&pad=" + strings.Repeat("x", max(0, fill))
}

// TestBallotRequestAndReviewLengthsDoNotTellTheChoice: the ballot's request and the
// review page were of a length that depends on the choices (19/17/18 bytes;
// 3859/3855/3839 bytes for the three answers): an observer of the encrypted
// traffic learned the vote. For every answer of each question, blank included,
// the request as the page sends it, the review page, and the confirm request are
// each of one length.
func TestBallotRequestAndReviewLengthsDoNotTellTheChoice(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 1)
	v := newVoter(rt.URL, nil)
	signIn(t, v, smtp, 1)
	cookie := sessionOf(t, v).String()

	resp, page := send(t, rt.URL, http.MethodGet, "/ballot", "", "", "Cookie", cookie)
	m := padToRe.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("the ballot page (%d) does not say what length to pad its request to:\n%s", resp.StatusCode, page)
	}
	padTo, _ := strconv.Atoi(m[1])

	// every answer of each question, the other at its first answer
	rankings := []map[string]string{
		{"m1": "1", "m2": "", "m3": ""}, {"m1": "", "m2": "1", "m3": ""}, {"m1": "", "m2": "", "m3": "1"},
		{"m1": "1", "m2": "2", "m3": ""}, {"m1": "3", "m2": "1", "m3": "2"}, {"m1": "2", "m2": "3", "m3": "1"},
	}
	type ballot struct {
		chair   string
		ranking map[string]string
	}
	var ballots []ballot
	for _, chair := range []string{"alice", "bob", "_blank"} {
		ballots = append(ballots, ballot{chair, rankings[0]})
	}
	for _, r := range rankings[1:] {
		ballots = append(ballots, ballot{"alice", r})
	}
	requests, reviews, confirms := map[int][]string{}, map[int][]string{}, map[int][]string{}
	for _, b := range ballots {
		fields := url.Values{"q_chair": {b.chair}}
		for o, rank := range b.ranking {
			fields.Set("r_motions_"+o, rank)
		}
		name := b.chair + " " + fields.Encode()
		body := pagePost(fields, padTo)
		requests[len(body)] = append(requests[len(body)], name)
		resp, review := send(t, rt.URL, http.MethodPost, "/ballot", "application/x-www-form-urlencoded", body, "Cookie", cookie)
		if resp.StatusCode != http.StatusOK || !strings.Contains(review, `data-page="review"`) {
			t.Fatalf("%s: %d, not the review page:\n%s", name, resp.StatusCode, review)
		}
		reviews[len(review)] = append(reviews[len(review)], name)
		d := draftRe.FindStringSubmatch(review)
		if d == nil {
			t.Fatalf("%s: no draft in the review page", name)
		}
		confirm := url.Values{"draft": {d[1]}}.Encode()
		confirms[len(confirm)] = append(confirms[len(confirm)], name)
	}
	for what, lengths := range map[string]map[int][]string{"ballot request": requests, "review page": reviews, "confirm request": confirms} {
		if len(lengths) != 1 {
			t.Errorf("the %s's length tells the choice: %v", what, lengths)
		}
	}
	t.Logf("lengths: ballot requests %v, review pages %v, confirm requests %v", keys(requests), keys(reviews), keys(confirms))
}

func keys(m map[int][]string) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	return out
}
