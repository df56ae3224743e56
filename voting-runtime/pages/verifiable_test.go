package pages

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestVerifiableBallotPageSendsVotersToAClient: in the verifiable mode the
// ballot page says, in French and in English, that ballots are encrypted on
// the voter's device and to vote with `kubectl scrutin vote` for now; plain
// choices posted are refused (422, the ballot again with that notice), and
// nothing is cast.
func TestVerifiableBallotPageSendsVotersToAClient(t *testing.T) {
	f := newFixture(t, fixtureOptions{verifiable: true})
	f.clock.Add(time.Hour) // open
	// the letter with the Belenios credential is sent at import, before any code
	if _, err := f.smtp.WaitFor("camille@example.org", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	b := c.follow(c.signIn("V-1", "camille@example.org", "")).want(t, http.StatusOK, "ballot")
	b.has(t, "Ce scrutin est vérifiable", "chiffrés sur l’appareil", "kubectl scrutin vote")
	c.get("/ballot", "Accept-Language", "en").want(t, http.StatusOK, "ballot").
		has(t, "This vote is verifiable", "encrypted on the voter’s device", "kubectl scrutin vote")
	form := merge(b.hidden(t, "ballot-form"), url.Values{"q_chair": {"alice"}, "q_council": {"_blank"}})
	c.post("/ballot", form).want(t, http.StatusUnprocessableEntity, "ballot").has(t, "kubectl scrutin vote").hasNot(t, `data-page="review"`)
	if voted, err := f.en.HasVoted(context.Background(), "V-1"); err != nil || voted {
		t.Fatalf("after plain choices in the verifiable mode, the voter has voted: %v %v", voted, err)
	}
}
