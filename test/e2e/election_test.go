//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/test/load"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// managerNamespace is where config/default installs the manager.
const managerNamespace = "scrutin-system"

// congress applies, in a new tenant namespace, an Election with SMS codes sent to
// the host's gateway, on the host's PostgreSQL, with replicas between min and max,
// opening in opensIn and closing closesAfter later, for a roll of voters.
func congress(t *testing.T, ns string, voters int, min, max int32, opensIn, closesAfter time.Duration, edit ...func(*scrutinv1.Election)) *scrutinv1.Election {
	t.Helper()
	tenant(t, ns)
	secret(t, ns, "roll", map[string]string{"roll.csv": runtimetest.RollCSV(voters)})
	secret(t, ns, "sms", map[string]string{"url": phone.URL(), "token": load.PhonesToken})
	secret(t, ns, "postgres-admin", map[string]string{"dsn": pg.AdminURLAt(hostIP)})
	opens := time.Now().Add(opensIn).Truncate(time.Second)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "congress"},
		Spec: scrutinv1.ElectionSpec{
			Title: "Congress", Organization: "Party",
			Schedule: scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(closesAfter))},
			Questions: []scrutinv1.Question{
				{ID: "chair", Prompt: "Who should chair?", AllowBlank: true, Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}},
				{ID: "motions", Prompt: "Rank the motions", Kind: scrutinv1.Ranked, Options: []scrutinv1.Option{{ID: "m1", Label: "M1"}, {ID: "m2", Label: "M2"}, {ID: "m3", Label: "M3"}}},
			},
			VoterRoll:      scrutinv1.VoterRoll{SecretRef: &scrutinv1.SecretReference{Name: "roll"}},
			Authentication: scrutinv1.Authentication{Method: scrutinv1.SMSCode},
			Delivery:       scrutinv1.Delivery{SMS: &scrutinv1.DeliveryChannel{SecretRef: scrutinv1.SecretReference{Name: "sms"}}},
			Scaling:        scrutinv1.Scaling{MinReplicas: min, MaxReplicas: max},
			Store: scrutinv1.Store{Type: scrutinv1.StorePostgreSQL,
				PostgreSQL: &scrutinv1.PostgreSQLStore{AdminSecretRef: scrutinv1.SecretReference{Name: "postgres-admin"}}},
		},
	}
	for _, f := range edit {
		f(e)
	}
	if err := k8s.Create(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestElectionThroughTheService: an Election with SMS codes, PostgreSQL and two to
// four pods comes up; voters sign in and vote through its Service; after the close
// the results and turnout in its status are right, the board lists every receipt,
// and no code appears in any log, event or database dump.
func TestElectionThroughTheService(t *testing.T) {
	const voters = 200
	ns := "e2e-congress"
	congress(t, ns, voters, 2, 4, 45*time.Second, 2*time.Minute)

	e := waitPhase(t, ns, "congress", scrutinv1.PhaseScheduled, 2*time.Minute)
	waitFor(t, "two voting pods Ready", 2*time.Minute, func() (bool, error) {
		n := readyPods(t, e.Status.Namespace)
		return n >= 2, fmt.Errorf("%d Ready", n)
	})
	waitPhase(t, ns, "congress", scrutinv1.PhaseOpen, 2*time.Minute)

	url := ingressURL(t, e.Status.Namespace)
	target := &load.Target{URL: url, Phones: phone, Answers: load.DefaultAnswers, MaxRetries: 5, SameAddress: true, ForwardedFor: true,
		Dial: gateway.DialContext, TLS: gateway.TLSConfig()}
	stats := load.NewStats()
	target.Run(t.Context(), load.Constant(20, voters/20*time.Second), 1, 0, stats)
	res := stats.Result()
	if res.Journeys != voters || res.Failed() != 0 || res.Status5xx != 0 {
		t.Fatalf("%d receipts of %d voters; failures: %s; 5xx: %d", res.Journeys, voters, res.FailureList(), res.Status5xx)
	}

	e = waitPhase(t, ns, "congress", scrutinv1.PhaseTallied, 4*time.Minute)
	if e.Status.BallotsCast != voters || e.Status.Voters != voters || !strings.HasPrefix(e.Status.Turnout, "100") {
		t.Errorf("status: %d ballots of %d voters, turnout %q", e.Status.BallotsCast, e.Status.Voters, e.Status.Turnout)
	}
	results := map[string]scrutinv1.QuestionResult{}
	for _, q := range e.Status.Results {
		results[q.QuestionID] = q
	}
	if w := results["chair"].Winners; len(w) != 1 || w[0] != "alice" {
		t.Errorf("chair: %+v", results["chair"])
	}
	for _, o := range results["chair"].Options {
		if want := map[string]int64{"alice": voters, "bob": 0}[o.ID]; o.Votes != want {
			t.Errorf("chair, %s: %d votes, want %d", o.ID, o.Votes, want)
		}
	}
	if r := results["motions"].Ranking; len(r) < 2 || r[0] != "m2" || r[1] != "m1" {
		t.Errorf("motions ranking: %v", r)
	}

	on, n := board(t, url)
	for _, r := range res.Receipts {
		if on[r] != 1 {
			t.Errorf("receipt %s is on the board %d times", r, on[r])
		}
	}
	if n != voters {
		t.Errorf("%d trackers on the board for %d receipts", n, voters)
	}

	// no code in any log, event or in the database: the election's pods, the
	// manager, both namespaces, a dump of every database on the server
	dump, err := pg.DumpAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{
		"the voting pods' logs": logsOf(t, e.Status.Namespace), "the manager's logs": logsOf(t, managerNamespace),
		"the events": eventsOf(t, e.Status.Namespace) + eventsOf(t, ns), "the database dump": string(dump),
	}
	codes := phone.Codes()
	if len(codes) < voters {
		t.Fatalf("%d codes sent for %d voters", len(codes), voters)
	}
	for where, text := range sources {
		for _, c := range codes {
			if i := strings.Index(text, c); i >= 0 && sink.Contains(text, c) {
				// say where, with the code's own digits masked, so a chance match
				// (a number that happens to be a code) can be told from a leak
				context := strings.ReplaceAll(text[max(0, i-80):min(len(text), i+len(c)+40)], c, "<CODE>")
				t.Errorf("a code sent to a voter appears in %s: …%s…", where, context)
				break
			}
		}
	}
}
