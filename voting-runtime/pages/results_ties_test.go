package pages

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestResultsShowTiedPlaces: options the Schulze count leaves tied share a
// place on the results page (1, 2, 2, 4), each marked tied; a ranking
// without ties is numbered as before.
func TestResultsShowTiedPlaces(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/results?lang=en", nil)
	v := f.pages.view(rec, req, "results")
	v.Data = &resultsData{Questions: []resultView{
		{Number: 1, ID: "tied", Prompt: "Tied?", Ranked: true, Winners: []string{"Ana"}, Ties: true,
			Places: []rankPlace{{"Ana", 1, false}, {"Bea", 2, true}, {"Dom", 2, true}, {"Cyr", 4, false}}},
		{Number: 2, ID: "plain", Prompt: "Plain?", Ranked: true, Winners: []string{"Ana"},
			Places: []rankPlace{{"Ana", 1, false}, {"Bea", 2, false}}},
	}}
	f.pages.render(rec, req, http.StatusOK, v)
	body := rec.Body.String()
	for _, want := range []string{
		`<ol class="ranking" id="ranking_tied"><li value="1">Ana</li><li value="2">Bea <span class="tag">(tied)</span></li><li value="2">Dom <span class="tag">(tied)</span></li><li value="4">Cyr</li></ol>`,
		`<ol class="ranking" id="ranking_plain"><li>Ana</li><li>Bea</li></ol>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("results page lacks\n%s\nin\n%s", want, body)
		}
	}
}
