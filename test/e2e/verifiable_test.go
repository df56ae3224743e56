//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/internal/specs"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// TestVerifiableElectionOnTheCluster: a verifiable Election (Belenios) whose
// public credentials the tenant made offline and whose key the platform's
// trustee holds comes up on the cluster; voters sign in by SMS through the
// ingress, encrypt their ballots on their side with the Go client and cast them,
// one votes again; after the close the status holds the result of the counted
// ballots, and Debian's belenios-tool verifies the board downloaded from the
// election's public URL. The private credentials never enter the cluster.
func TestVerifiableElectionOnTheCluster(t *testing.T) {
	if _, err := exec.LookPath("belenios-tool"); err != nil {
		t.Fatal("belenios-tool is needed (apt-get install -y belenios-tool; .ci/run installs it)")
	}
	const voters = 6
	ns := "e2e-verifiable"
	g := belenios.Belenios2048()
	uuid, err := belenios.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	credentials := make([]string, voters+1)
	var pcs []belenios.PublicCredential
	for i := 1; i <= voters; i++ {
		if credentials[i], err = belenios.NewCredential(); err != nil {
			t.Fatal(err)
		}
		pcs = append(pcs, belenios.PublicCredential{Credential: belenios.PublicCredentialOf(g, credentials[i], uuid), Weight: 1, VoterID: runtimetest.VoterID(i)})
	}
	var pub bytes.Buffer
	if err := belenios.WritePubcreds(&pub, pcs); err != nil {
		t.Fatal(err)
	}
	maxMotions := int32(2)
	congress(t, ns, voters, 1, 1, 70*time.Second, 80*time.Second, func(e *scrutinv1.Election) {
		secret(t, ns, "creds", map[string]string{scrutinv1.PublicCredentialsUUIDKey: uuid, scrutinv1.PublicCredentialsKey: pub.String()})
		e.Spec.Questions = []scrutinv1.Question{
			{ID: "chair", Prompt: "Who should chair?", AllowBlank: true, Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}},
			{ID: "motions", Prompt: "Which motions?", Kind: scrutinv1.MultipleChoice, MinChoices: 1, MaxChoices: &maxMotions,
				Options: []scrutinv1.Option{{ID: "m1", Label: "M1"}, {ID: "m2", Label: "M2"}, {ID: "m3", Label: "M3"}}},
		}
		e.Spec.Verifiability = &scrutinv1.Verifiability{Mode: scrutinv1.VerifiabilityBelenios,
			CredentialAuthority: scrutinv1.CredentialAuthorityExternal, PublicCredentials: &scrutinv1.SecretReference{Name: "creds"}}
	})
	e := waitPhase(t, ns, "congress", scrutinv1.PhaseScheduled, 3*time.Minute)
	var key corev1.Secret
	if err := k8s.Get(t.Context(), clientKey(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.Status.Namespace, Name: specs.TrusteeKeySecretName}}), &key); err != nil {
		t.Fatalf("the platform trustee's key: %v", err)
	}
	waitPhase(t, ns, "congress", scrutinv1.PhaseOpen, 3*time.Minute)
	url := ingressURL(t, e.Status.Namespace)

	raw := get(t, url+"/api/v1/election.json")
	rec, err := belenios.ParseElection(raw)
	if err != nil {
		t.Fatalf("election.json: %v", err)
	}
	if rec.Election.UUID != uuid {
		t.Fatalf("the election's uuid is %q, the tenant's credentials were made for %q", rec.Election.UUID, uuid)
	}
	// per question, per slot: chair = [blank, alice, bob], motions = [m1, m2, m3]
	votes := []belenios.Plaintext{
		{{0, 1, 0}, {1, 1, 0}}, {{0, 1, 0}, {0, 1, 0}}, {{0, 0, 1}, {0, 0, 1}},
		{{1, 0, 0}, {1, 0, 0}}, {{0, 1, 0}, {0, 1, 1}}, {{0, 0, 1}, {1, 0, 0}},
	}
	revote := belenios.Plaintext{{0, 1, 0}, {0, 0, 1}} // voter 6 changes their mind: the last ballot counts
	want := map[string]map[string]int64{"chair": {"alice": 0, "bob": 0, "": 0}, "motions": {"m1": 0, "m2": 0, "m3": 0}}
	count := func(p belenios.Plaintext) {
		for slot, name := range []string{"", "alice", "bob"} {
			want["chair"][name] += int64(p[0][slot])
		}
		for slot, name := range []string{"m1", "m2", "m3"} {
			want["motions"][name] += int64(p[1][slot])
		}
	}
	ctx := t.Context()
	var trackers []string
	for i := 1; i <= voters; i++ {
		v := newVoter(url, i)
		if err := v.signIn(ctx); err != nil {
			t.Fatalf("voter %d: %v", i, err)
		}
		ballots := []belenios.Plaintext{votes[i-1]}
		if i == voters {
			ballots = append(ballots, revote)
		}
		for _, p := range ballots {
			b, err := belenios.NewBallot(rec, credentials[i], p)
			if err != nil {
				t.Fatal(err)
			}
			tracker := castBelenios(ctx, t, v, b)
			if tracker != belenios.Tracker(b) {
				t.Fatalf("voter %d: the receipt %q is not the ballot's tracker %q", i, tracker, belenios.Tracker(b))
			}
			trackers = append(trackers, tracker)
		}
		count(ballots[len(ballots)-1])
	}

	e = waitPhase(t, ns, "congress", scrutinv1.PhaseTallied, 5*time.Minute)
	if e.Status.BallotsCast != voters {
		t.Errorf("status.ballotsCast = %d, want %d (one counted per voter)", e.Status.BallotsCast, voters)
	}
	for _, q := range e.Status.Results {
		if q.Blank != want[q.QuestionID][""] {
			t.Errorf("%s: %d blank, want %d", q.QuestionID, q.Blank, want[q.QuestionID][""])
		}
		for _, o := range q.Options {
			if o.Votes != want[q.QuestionID][o.ID] {
				t.Errorf("%s, %s: %d votes, want %d", q.QuestionID, o.ID, o.Votes, want[q.QuestionID][o.ID])
			}
		}
	}
	if len(e.Status.Results) != 2 {
		t.Errorf("status.results = %+v", e.Status.Results)
	}

	archive := get(t, url+"/api/v1/board.bel")
	a, err := belenios.ReadArchive(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("the board: %v", err)
	}
	on := map[string]int{}
	for _, b := range a.Ballots {
		on[belenios.Tracker(b)]++
	}
	for _, tr := range trackers {
		if on[tr] != 1 {
			t.Errorf("tracker %s is on the board %d times", tr, on[tr])
		}
	}
	if a.Result == nil {
		t.Fatal("the board holds no result")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, uuid+".bel"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("belenios-tool", "election", "verify", "--dir", dir).CombinedOutput()
	t.Logf("belenios-tool election verify:\n%s", out)
	if err != nil || !strings.Contains(string(out), "I: all checks passed") {
		t.Fatalf("belenios-tool rejects the board: %v", err)
	}
	// the private credentials never entered the cluster
	if logs := logsOf(t, e.Status.Namespace); strings.Contains(logs, credentials[1]) {
		t.Error("a private credential is in the voting pods' logs")
	}
}

// castBelenios posts an encrypted ballot through the ingress and returns the
// receipt's tracker.
func castBelenios(ctx context.Context, t *testing.T, v *voter, ballot []byte) string {
	t.Helper()
	var tracker string
	err := retry(ctx, func() (bool, error) {
		status, body, err := v.post(ctx, "/api/v1/ballot", map[string]string{"belenios": string(ballot)})
		switch {
		case err != nil || transient(status):
			return false, fmt.Errorf("cast: %d %v", status, err)
		case status == http.StatusCreated:
			var r struct{ Tracker string }
			if err := json.Unmarshal(body, &r); err != nil {
				return true, err
			}
			tracker = r.Tracker
			return true, nil
		default:
			return true, fmt.Errorf("cast: %d %s", status, body)
		}
	})
	if err != nil {
		t.Fatalf("voter %s: %v", v.id, err)
	}
	return tracker
}

// get reads a public URL of the election.
func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %v", u, resp.StatusCode, err)
	}
	return body
}
