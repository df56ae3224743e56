package engine

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/store"
)

func TestLetterNamesThePublicURL(t *testing.T) {
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	e := &scrutinv1.Election{Spec: scrutinv1.ElectionSpec{
		Title: "Board", Organization: "Association",
		Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(time.Hour))},
	}}
	v := store.Voter{ID: "V-1", Email: "jean@example.org"}
	for name, tc := range map[string]struct {
		url, credential, belenios string
		want                      string // "" : no address in the letter
	}{
		"credential, with a public URL": {url: "https://board.tenant.vote.example/", credential: "ABCD-EFGH", want: "https://board.tenant.vote.example/"},
		"belenios, with a public URL":   {url: "https://vote.example.org/", belenios: "xyz", want: "https://vote.example.org/"},
		"no public URL":                 {credential: "ABCD-EFGH"},
	} {
		t.Run(name, func(t *testing.T) {
			en := &Engine{e: e, publicURL: tc.url}
			m := en.letter(v, tc.credential, tc.belenios)
			has := strings.Contains(m.Body, "To vote:")
			switch {
			case tc.want == "" && has:
				t.Errorf("a letter names an address without a public URL:\n%s", m.Body)
			case tc.want != "" && !strings.Contains(m.Body, "Pour voter / To vote: "+tc.want):
				t.Errorf("the letter does not name %s:\n%s", tc.want, m.Body)
			}
			if c := tc.credential + tc.belenios; !strings.Contains(m.Body, c) {
				t.Errorf("the letter lost its credential %s:\n%s", c, m.Body)
			}
		})
	}
}
