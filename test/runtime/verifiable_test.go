package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/embedded"
	"scrutin.dev/scrutin/voting-runtime/store/postgres"
)

// The verifiable mode, end to end: the runtime binary on each store, voters who
// sign in and take their Belenios credential from their letter, ballots made
// with the Go client, the close, and Debian's belenios-tool checking the board
// the runtime publishes.

// verifiableYAML is an Election in the verifiable mode: chair (a single choice
// with a blank vote) and council (one or two of three), extra lines appended
// under spec.verifiability.
func verifiableYAML(opens, closes time.Time, extra string) string {
	return fmt.Sprintf(`apiVersion: elections.scrutin.dev/v1alpha1
kind: Election
metadata:
  name: board
  namespace: tenant
spec:
  title: Board election
  organization: Test association
  schedule: {opensAt: %q, closesAt: %q}
  questions:
  - id: chair
    prompt: Who should chair?
    allowBlank: true
    options: [{id: alice, label: Alice}, {id: bob, label: Bob}]
  - id: council
    prompt: Elect the council
    kind: MultipleChoice
    maxChoices: 2
    options: [{id: carla, label: Carla}, {id: dan, label: Dan}, {id: eve, label: Eve}]
  voterRoll: {secretRef: {name: roll}}
  authentication: {method: EmailCode}
  delivery: {smtp: {secretRef: {name: smtp}}}
  verifiability:
    mode: Belenios
%s`, opens.UTC().Format(time.RFC3339), closes.UTC().Format(time.RFC3339), extra)
}

// beleniosCredentialPattern is a Belenios credential as Belenios prints it.
var beleniosCredentialPattern = regexp.MustCompile(`[1-9A-HJ-NP-Za-km-z]{3}(?:-[1-9A-HJ-NP-Za-km-z]{3}){4}`)

// vote is one voter's choices: the plaintext the ballot encrypts, and the same
// choices as plain answers (what must never appear in the runtime's keeping).
type vote struct {
	plain   belenios.Plaintext
	answers ballot.Answers
}

// chair slots: blank, alice, bob; council slots: carla, dan, eve.
var (
	voteAliceCarlaDan = vote{belenios.Plaintext{{0, 1, 0}, {1, 1, 0}}, ballot.Answers{"chair": {"alice"}, "council": {"carla", "dan"}}}
	voteBlankEve      = vote{belenios.Plaintext{{1, 0, 0}, {0, 0, 1}}, ballot.Answers{"chair": {}, "council": {"eve"}}}
	voteBobDan        = vote{belenios.Plaintext{{0, 0, 1}, {0, 1, 0}}, ballot.Answers{"chair": {"bob"}, "council": {"dan"}}}
	voteAliceCarla    = vote{belenios.Plaintext{{0, 1, 0}, {1, 0, 0}}, ballot.Answers{"chair": {"alice"}, "council": {"carla"}}}
	voteBobCarlaEve   = vote{belenios.Plaintext{{0, 0, 1}, {1, 0, 1}}, ballot.Answers{"chair": {"bob"}, "council": {"carla", "eve"}}}
)

// beleniosVoter is a signed-in voter with their Belenios credential.
type beleniosVoter struct {
	*voter
	id         string
	credential string
}

// letterCredential waits for voter i's letter and returns the Belenios
// credential it carries.
func letterCredential(t *testing.T, smtp *sink.SMTPSink, i int) string {
	t.Helper()
	m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := beleniosCredentialPattern.FindString(m.Body)
	if c == "" {
		t.Fatalf("no Belenios credential in the letter to %s:\n%s", runtimetest.VoterEmail(i), m.Body)
	}
	if err := belenios.CheckCredential(c); err != nil {
		t.Fatalf("the letter's credential %s…: %v", c[:3], err)
	}
	return c
}

// getRaw GETs base+path, recording the answer, and returns its status and body.
func (v *voter) getRaw(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := v.http.Get(v.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if v.rec != nil && !strings.HasSuffix(path, ".bel") {
		v.rec.add(resp, data)
	}
	return resp.StatusCode, data
}

// electionRecord reads GET /api/v1/election.json.
func electionRecord(t *testing.T, v *voter) *belenios.ElectionRecord {
	t.Helper()
	status, raw := v.getRaw(t, "/api/v1/election.json")
	if status != http.StatusOK {
		t.Fatalf("election.json: %d %s", status, raw)
	}
	rec, err := belenios.ParseElection(raw)
	if err != nil {
		t.Fatalf("election.json: %v\n%s", err, raw)
	}
	return rec
}

// castAnswerB is the answer to an encrypted cast.
type castAnswerB struct {
	Tracker      string `json:"tracker"`
	ShortTracker string `json:"shortTracker"`
	Error        string `json:"error"`
	Reason       string `json:"reason"`
	Message      string `json:"message"`
}

// castRaw posts an encrypted ballot.
func (v *beleniosVoter) castRaw(t *testing.T, raw []byte) (int, castAnswerB) {
	t.Helper()
	var ans castAnswerB
	status, err := v.call(http.MethodPost, "/api/v1/ballot", map[string]string{"belenios": string(raw)}, &ans)
	if err != nil {
		t.Fatal(err)
	}
	return status, ans
}

// cast encrypts and posts a vote; it must be accepted.
func (v *beleniosVoter) cast(t *testing.T, rec *belenios.ElectionRecord, choices belenios.Plaintext) []byte {
	t.Helper()
	raw, err := belenios.NewBallot(rec, v.credential, choices)
	if err != nil {
		t.Fatal(err)
	}
	status, ans := v.castRaw(t, raw)
	if status != http.StatusCreated || ans.Tracker != belenios.Tracker(raw) {
		t.Fatalf("cast by %s: %d %+v (want 201 and tracker %s)", v.id, status, ans, belenios.Tracker(raw))
	}
	return raw
}

// resign signs b again with credential, as its voter's device would after
// changing it: the runtime must then find the change in the proofs.
func resign(t *testing.T, rec *belenios.ElectionRecord, credential string, b *belenios.Ballot) []byte {
	t.Helper()
	g := rec.Group
	b.Signature = nil
	unsigned, err := belenios.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	hash := belenios.SHA256B64(unsigned)
	s := belenios.CredentialSecret(g, credential, rec.Election.UUID)
	w, err := g.RandomScalar()
	if err != nil {
		t.Fatal(err)
	}
	c := g.Hash("sig|"+hash+"|", g.Exp(w))
	r := new(big.Int).Sub(w, new(big.Int).Mul(s, c))
	r.Mod(r, g.Q)
	b.Signature = &belenios.Signature{Hash: hash, Proof: belenios.Proof{Challenge: belenios.NewInt(c), Response: belenios.NewInt(r)}}
	raw, err := belenios.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// parse reads a ballot the test made.
func parse(t *testing.T, raw []byte) *belenios.Ballot {
	t.Helper()
	b, err := belenios.ParseBallot(raw)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifiableRun is one verifiable election run by the test.
type verifiableRun struct {
	rt       *runtimetest.Instance
	args     []string
	smtp     *sink.SMTPSink
	dir      string
	token    string
	rec      *recorder
	pg       *pgtest.Server
	dbPath   string
	trustee  *big.Int // the platform trustee's key, from the keys dir
	voters   []*beleniosVoter
	accepted [][]byte
	rejected [][]byte
}

// startVerifiable starts the runtime on storeKind ("embedded" or "postgres")
// with n voters, the platform trustee's key in a keys dir, and signs every
// voter in after taking their credential from their letter.
func startVerifiable(t *testing.T, storeKind string, n int, extra string, args ...string) *verifiableRun {
	return startVerifiableRoll(t, storeKind, runtimetest.RollCSV(n), n, extra, args...)
}

// startVerifiableRoll is startVerifiable with a roll of n voters of its own.
func startVerifiableRoll(t *testing.T, storeKind, rollCSV string, n int, extra string, args ...string) *verifiableRun {
	t.Helper()
	r := &verifiableRun{smtp: sink.StartSMTP(t), dir: t.TempDir(), rec: &recorder{}}
	var storeSpec string
	if storeKind == "postgres" {
		r.pg = pgtest.ForTest(t)
		storeSpec = "postgres:" + r.pg.AdminDSN()
	} else {
		r.dbPath = filepath.Join(r.dir, "data", "election.db")
		storeSpec = "embedded:" + r.dbPath
	}
	keys := filepath.Join(r.dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	x, err := belenios.Belenios2048().RandomScalar()
	if err != nil {
		t.Fatal(err)
	}
	r.trustee = x
	if err := os.WriteFile(filepath.Join(keys, "belenios-trustee-key"), []byte(x.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	rollPath := filepath.Join(r.dir, "roll.csv")
	if err := os.WriteFile(rollPath, []byte(rollCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	election := filepath.Join(r.dir, "election.yaml")
	if err := os.WriteFile(election, []byte(verifiableYAML(now.Add(-time.Minute), now.Add(time.Hour), extra)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.args = append([]string{"--election", election,
		"--roll", rollPath, "--store", storeSpec, "--smtp", r.smtp.Addr(), "--keys-dir", keys,
		"--control-token-file", filepath.Join(r.dir, "control-token")}, args...)
	r.rt = runtimetest.Start(t, runtimeBin, nil, r.args...)
	r.token = runtimetest.ReadFile(t, filepath.Join(r.dir, "control-token"))
	for i := 1; i <= n; i++ {
		credential := ""
		if extra == "" || !strings.Contains(extra, "External") {
			credential = letterCredential(t, r.smtp, i) // the letter comes at import, before any code
		}
		v := newVoter(r.rt.URL, r.rec)
		signIn(t, v, r.smtp, i)
		r.voters = append(r.voters, &beleniosVoter{voter: v, id: runtimetest.VoterID(i), credential: credential})
	}
	return r
}

// closeNow moves the schedule's close to now (the controller's push) and
// closes the vote through the control API.
func (r *verifiableRun) closeNow(t *testing.T) {
	t.Helper()
	now := time.Now()
	sc := map[string]any{"opensAt": now.Add(-time.Hour).UTC().Format(time.RFC3339), "closesAt": now.Add(time.Second).UTC().Format(time.RFC3339), "version": 2}
	if status, body := controlRaw(t, r.rt.OpsURL, r.token, http.MethodPost, "/control/v1/schedule", sc); status != http.StatusOK {
		t.Fatalf("schedule: %d %s", status, body)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, body := controlRaw(t, r.rt.OpsURL, r.token, http.MethodPost, "/control/v1/close", nil)
		if status == http.StatusNoContent {
			return
		}
		if status != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("close: %d %s", status, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// results reads the results through the control API.
func (r *verifiableRun) results(t *testing.T) (int, []scrutinv1.QuestionResult) {
	t.Helper()
	var res controlResultsBody
	status := control(t, r.rt.OpsURL, r.token, http.MethodGet, "/control/v1/results", nil, &res)
	return status, res.Results
}

type controlResultsBody struct {
	BallotsCast int64                      `json:"ballotsCast"`
	Results     []scrutinv1.QuestionResult `json:"results"`
}

// downloadBoard saves GET /api/v1/board.bel into a directory of its own (the
// name the runtime gives it) and returns the file's path.
func downloadBoard(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/board.bel")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("board.bel: %d %v %s", resp.StatusCode, err, data)
	}
	name := "board.bel"
	if m := regexp.MustCompile(`filename="([1-9A-HJ-NP-Za-km-z]+\.bel)"`).FindStringSubmatch(resp.Header.Get("Content-Disposition")); m != nil {
		name = m[1]
	} else {
		t.Errorf("board.bel's Content-Disposition names no <uuid>.bel: %q", resp.Header.Get("Content-Disposition"))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// beleniosVerify runs `belenios-tool election verify` on the archive's directory.
func beleniosVerify(t *testing.T, archive string) (string, int) {
	t.Helper()
	tool, err := exec.LookPath("belenios-tool")
	if err != nil {
		t.Fatal("belenios-tool is not installed (Debian package belenios-tool; .ci/run installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, "election", "verify", "--dir", filepath.Dir(archive)).CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// TestVerifiableElection runs a verifiable election on each store: four voters
// cast encrypted ballots (one votes again), six kinds of bad ballots are
// refused with their reason, the vote closes, belenios-tool verifies the board
// the runtime publishes, the results equal the plaintexts cast (the re-vote's
// last ballot only), and nothing the runtime logged, answered, measured or
// stored holds a private credential, the trustee's key or a plaintext choice.
func TestVerifiableElection(t *testing.T) {
	for _, kind := range []string{"embedded", "postgres"} {
		t.Run(kind, func(t *testing.T) { verifiableElection(t, kind) })
	}
}

func verifiableElection(t *testing.T, storeKind string) {
	r := startVerifiable(t, storeKind, 4, "")
	public := newVoter(r.rt.URL, r.rec)
	rec := electionRecord(t, public)
	if rec.Election.Group != "BELENIOS-2048" || len(rec.Election.Questions) != 2 {
		t.Fatalf("election record: %+v", rec.Election)
	}
	// the plain answers are refused in this mode
	var plain castAnswer
	if status, _ := r.voters[0].call(http.MethodPost, "/api/v1/ballot", map[string]any{"answers": voteAliceCarla.answers}, &plain); status != http.StatusUnprocessableEntity || plain.Error != "encrypted-ballots-only" {
		t.Fatalf("plain answers in the verifiable mode: %d %+v", status, plain)
	}

	v1, v2, v3, v4 := r.voters[0], r.voters[1], r.voters[2], r.voters[3]
	r.accepted = append(r.accepted, v1.cast(t, rec, voteAliceCarlaDan.plain), v2.cast(t, rec, voteBlankEve.plain))

	// Rejections, each with its reason, none on the board.
	good, err := belenios.NewBallot(rec, v3.credential, voteBobDan.plain)
	if err != nil {
		t.Fatal(err)
	}
	g := rec.Group
	changedCiphertext := parse(t, good)
	alpha := changedCiphertext.Answers[0].Choices[1].Alpha.Big()
	changedCiphertext.Answers[0].Choices[1].Alpha = belenios.NewInt(new(big.Int).Mod(new(big.Int).Mul(alpha, g.G), g.P))
	unsigned := parse(t, good)
	unsigned.Answers[1].Choices[0].Beta = belenios.NewInt(new(big.Int).Mod(new(big.Int).Mul(unsigned.Answers[1].Choices[0].Beta.Big(), g.G), g.P))
	unsignedRaw, err := belenios.Marshal(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	wrongProof := parse(t, good)
	resp := wrongProof.Answers[1].OverallProof[0].Response.Big()
	wrongProof.Answers[1].OverallProof[0].Response = belenios.NewInt(new(big.Int).Mod(new(big.Int).Add(resp, big.NewInt(1)), g.Q))
	wrongSignature := parse(t, good)
	sr := wrongSignature.Signature.Proof.Response.Big()
	wrongSignature.Signature.Proof.Response = belenios.NewInt(new(big.Int).Mod(new(big.Int).Add(sr, big.NewInt(1)), g.Q))
	wrongSignatureRaw, err := belenios.Marshal(wrongSignature)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := belenios.QuestionsOf(mustElection(t, r.dir).Spec.Questions)
	if err != nil {
		t.Fatal(err)
	}
	otherRaw, err := belenios.NewElectionRecord(rec.Election.UUID, "Another election", rec.Election.Description, qs, rec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := belenios.ParseElection(otherRaw)
	if err != nil {
		t.Fatal(err)
	}
	otherElection, err := belenios.NewBallot(other, v3.credential, voteBobDan.plain)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := belenios.NewCredential()
	if err != nil {
		t.Fatal(err)
	}
	unlisted, err := belenios.NewBallot(rec, stranger, voteBobDan.plain)
	if err != nil {
		t.Fatal(err)
	}
	anothers, err := belenios.NewBallot(rec, v2.credential, voteBobDan.plain) // voter 2's credential, in voter 3's session
	if err != nil {
		t.Fatal(err)
	}
	var spaced bytes.Buffer
	if err := json.Indent(&spaced, good, "", " "); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, reason string
		raw          []byte
	}{
		{"a changed ciphertext, signed again", "bad-proof", resign(t, rec, v3.credential, changedCiphertext)},
		{"a changed ciphertext, not signed again", "bad-signature", unsignedRaw},
		{"a wrong proof", "bad-proof", resign(t, rec, v3.credential, wrongProof)},
		{"a wrong signature", "bad-signature", wrongSignatureRaw},
		{"another election's fingerprint", "wrong-election", otherElection},
		{"a credential not on the list", "unknown-credential", unlisted},
		{"another voter's credential", "unknown-credential", anothers},
		{"a non-canonical serialisation", "not-canonical", spaced.Bytes()},
	} {
		status, ans := v3.castRaw(t, c.raw)
		if status != http.StatusUnprocessableEntity || ans.Error != "invalid-ballot" || ans.Reason != c.reason {
			t.Errorf("%s: %d %+v, want 422 invalid-ballot %s", c.name, status, ans, c.reason)
		}
		r.rejected = append(r.rejected, c.raw)
	}

	r.accepted = append(r.accepted, v3.cast(t, rec, voteBobDan.plain))
	first := v4.cast(t, rec, voteAliceCarla.plain)
	// voter 4 votes again: both ballots on the board, the last one counts
	r.accepted = append(r.accepted, first, v4.cast(t, rec, voteBobCarlaEve.plain))
	// a replay of voter 4's first ballot would make it count again: refused
	if status, ans := v4.castRaw(t, first); status != http.StatusConflict || ans.Error != "ballot-on-board" {
		t.Errorf("a replayed ballot: %d %+v, want 409 ballot-on-board", status, ans)
	}

	// Before the close: the board holds the setup and the ballots, and verifies.
	early := downloadBoard(t, r.rt.URL)
	out, code := beleniosVerify(t, early)
	t.Logf("belenios-tool election verify, before the close (exit %d):\n%s", code, out)
	if code != 0 || !strings.Contains(out, "I: all checks passed") {
		t.Fatalf("belenios-tool does not verify the board before the close: exit %d\n%s", code, out)
	}

	r.closeNow(t)
	status, results := r.results(t)
	if status != http.StatusOK {
		t.Fatalf("results: %d", status)
	}
	checkResults(t, results, map[string]map[string]int64{
		"chair":   {"alice": 1, "bob": 2, "": 1},
		"council": {"carla": 2, "dan": 2, "eve": 2, "": 0},
	})

	archive := downloadBoard(t, r.rt.URL)
	out, code = beleniosVerify(t, archive)
	t.Logf("belenios-tool election verify (exit %d):\n%s", code, out)
	if code != 0 || !strings.Contains(out, "I: all checks passed") || strings.Contains(out, "no result") {
		t.Fatalf("belenios-tool does not verify the board: exit %d\n%s", code, out)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range r.accepted {
		if !bytes.Contains(data, raw) {
			t.Errorf("accepted ballot %d is not on the board", i)
		}
	}
	for i, raw := range r.rejected {
		if bytes.Contains(data, raw) {
			t.Errorf("rejected ballot %d is on the board", i)
		}
	}
	if n := bytes.Count(data, []byte(`"type":"Ballot"`)); n != len(r.accepted) {
		t.Errorf("%d Ballot events on the board, want %d (every accepted cast, the re-vote's two included)", n, len(r.accepted))
	}
	// the same state gives the same bytes
	if again, err := os.ReadFile(downloadBoard(t, r.rt.URL)); err != nil || !bytes.Equal(again, data) {
		t.Errorf("two downloads of the closed board differ (%v)", err)
	}
	if storeKind == "embedded" {
		t.Run("tampered", func(t *testing.T) { tamperedBoards(t, data) })
	}
	r.leakScan(t, rec)
}

// mustElection reads the election file the run wrote.
func mustElection(t *testing.T, dir string) *scrutinv1.Election {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "election.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var e scrutinv1.Election
	if err := yaml.Unmarshal(data, &e); err != nil {
		t.Fatal(err)
	}
	e.Default()
	return &e
}

// checkResults compares results with want (question → option → votes, "" the
// blank count).
func checkResults(t *testing.T, results []scrutinv1.QuestionResult, want map[string]map[string]int64) {
	t.Helper()
	if len(results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(results), len(want), results)
	}
	for _, q := range results {
		w := want[q.QuestionID]
		got := map[string]int64{"": q.Blank}
		for _, o := range q.Options {
			got[o.ID] = o.Votes
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("question %s: %v, want %v", q.QuestionID, got, w)
		}
	}
}

// leakScan searches what the run left (every answer received, the logs, the
// metrics, the store whole, the audit log) for the voters' private
// credentials (with and without dashes, and the secret exponent they derive),
// the platform trustee's private key, and the plain choices of each vote (as
// Scrutin's plain ballots encode them): none may be there. The plain box must
// be empty.
func (r *verifiableRun) leakScan(t *testing.T, rec *belenios.ElectionRecord) {
	t.Helper()
	ctx := context.Background()
	var secrets []string
	for _, v := range r.voters {
		if v.credential == "" {
			continue
		}
		secrets = append(secrets, v.credential, strings.ReplaceAll(v.credential, "-", ""),
			belenios.CredentialSecret(rec.Group, v.credential, rec.Election.UUID).String())
	}
	secrets = append(secrets, r.trustee.String())
	var plains []string
	for _, v := range []vote{voteAliceCarlaDan, voteBlankEve, voteBobDan, voteAliceCarla, voteBobCarlaEve} {
		plains = append(plains, string(ballot.Encode(v.answers)))
	}
	var corpus strings.Builder
	corpus.WriteString(r.rec.String())
	for _, p := range []string{"/control/v1/status", "/control/v1/results", "/metrics"} {
		_, body := controlRaw(t, r.rt.OpsURL, r.token, http.MethodGet, p, nil)
		corpus.WriteString(body)
	}
	r.rt.Stop()
	corpus.WriteString(r.rt.Logs.String())
	var st store.Store
	var err error
	if r.pg != nil {
		dump, err := exec.Command(filepath.Join(pgBin(), "pg_dump"), "--no-owner", "-d", r.pg.AdminDSN()).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_dump: %v\n%s", err, dump)
		}
		corpus.Write(dump)
		st, err = postgres.Open(ctx, r.pg.AdminDSN())
		if err != nil {
			t.Fatal(err)
		}
	} else {
		files, _ := filepath.Glob(r.dbPath + "*")
		for _, f := range files {
			data, _ := os.ReadFile(f)
			corpus.Write(data)
		}
		st, err = embedded.Open(ctx, r.dbPath)
		if err != nil {
			t.Fatal(err)
		}
	}
	defer st.Close()
	log, err := st.AuditLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		corpus.WriteString(e.Kind)
		corpus.Write(e.Data)
	}
	if plainBox, err := st.Ballots(ctx); err != nil || len(plainBox) != 0 {
		t.Errorf("the plain ballot box holds %d ballots (%v): the verifiable mode keeps none", len(plainBox), err)
	}
	all := corpus.String()
	if len(all) < 100000 {
		t.Fatalf("only %d bytes scanned: the scan would prove nothing", len(all))
	}
	for _, s := range secrets {
		for _, enc := range encodings(s) {
			if sink.Contains(all, enc) {
				t.Errorf("a secret (%d characters) appears in clear or encoded (%q) in what was scanned", len(s), enc[:4]+"…")
			}
		}
	}
	for _, p := range plains {
		if strings.Contains(all, p) {
			t.Errorf("a plain vote %s appears in what was scanned", p)
		}
	}
	t.Logf("scanned %d bytes for %d secrets in %d encodings each and %d plain votes", len(all), len(secrets), len(encodings("x")), len(plains))
}

// rebuild reads an archive with the board's reader, applies change to it and
// writes it again with the board's writer: a consistent chain whose content is
// not the election's.
func rebuild(t *testing.T, data []byte, change func(a *belenios.Archive)) []byte {
	t.Helper()
	a, err := belenios.ReadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	change(a)
	var out bytes.Buffer
	if err := belenios.WriteArchive(&out, a); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// tamperedBoards: belenios-tool refuses the board once tampered with — a byte
// of a ballot changed, a ballot dropped (the chain rebuilt around it), a count
// of the result changed (the chain rebuilt) — and verifies it rebuilt as it
// was, so that each failure is the change's.
func tamperedBoards(t *testing.T, data []byte) {
	write := func(data []byte) string {
		path := filepath.Join(t.TempDir(), "tampered.bel")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	same := rebuild(t, data, func(*belenios.Archive) {})
	if !bytes.Equal(same, data) {
		t.Fatal("the board rebuilt unchanged differs from the board: the tampering below would prove nothing")
	}
	flipped := bytes.Clone(data)
	i := bytes.Index(flipped, []byte(`{"election_uuid"`))
	j := bytes.Index(flipped[i:], []byte(`"alpha":"`)) + i + len(`"alpha":"`) + 5
	flipped[j] = '0' + (flipped[j]-'0'+1)%10
	dropped := rebuild(t, data, func(a *belenios.Archive) { a.Ballots = a.Ballots[1:] })
	changed := rebuild(t, data, func(a *belenios.Archive) {
		var res belenios.Result
		if err := json.Unmarshal(a.Result, &res); err != nil {
			t.Fatal(err)
		}
		res.Result[0][1]++
		raw, err := belenios.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		a.Result = raw
	})
	for _, c := range []struct {
		name string
		data []byte
	}{{"a byte of a ballot", flipped}, {"a dropped ballot", dropped}, {"a changed result", changed}} {
		out, code := beleniosVerify(t, write(c.data))
		t.Logf("%s: belenios-tool exit %d: %s", c.name, code, strings.TrimSpace(out))
		if code != 124 {
			t.Errorf("%s: belenios-tool exits %d, want 124 (a failed check)", c.name, code)
		}
	}
}

// pedersen2of3 runs the offline key ceremony of three trustees, any two of
// whom can decrypt: it returns the Pedersen entry and each member's share.
func pedersen2of3(t *testing.T) ([]byte, []*big.Int) {
	t.Helper()
	g := belenios.Belenios2048()
	keys := make([]*belenios.CeremonyKey, 3)
	certs := make([]belenios.SignedMsg, 3)
	for i := range keys {
		k, c, err := belenios.NewCeremonyKey(g)
		if err != nil {
			t.Fatal(err)
		}
		keys[i], certs[i] = k, c
	}
	c, err := belenios.NewCeremony(g, 2, certs)
	if err != nil {
		t.Fatal(err)
	}
	deals := make([]belenios.Deal, 3)
	for i, k := range keys {
		d, err := c.Deal(g, k)
		if err != nil {
			t.Fatal(err)
		}
		deals[i] = *d
	}
	all, err := c.CollectDeals(g, deals)
	if err != nil {
		t.Fatal(err)
	}
	shares := make([]*big.Int, 3)
	vks := make([]belenios.TrusteePublicKey, 3)
	for i, k := range keys {
		if shares[i], vks[i], err = c.Share(g, k, all); err != nil {
			t.Fatal(err)
		}
	}
	entry, err := c.Finish(g, all, vks)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := belenios.Marshal(entry)
	if err != nil {
		t.Fatal(err)
	}
	return raw, shares
}

// postDecryption uploads a partial decryption through the public route, with
// no session.
func postDecryption(t *testing.T, base string, owner int, pd []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("%s/api/v1/trustees/%d/partial-decryption", base, owner), "application/json", bytes.NewReader(pd))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestVerifiableExternalCredentialsAndThresholdTrustees: the tenant's public
// credentials (made offline, weighted as the roll) and three external
// trustees, any two of whom decrypt (Pedersen, their keys from the offline
// ceremony), the platform holding no key. A partial decryption is refused
// before the tally (425), with a wrong proof (422), for a trustee that does not
// exist (404) and twice (409); the result comes with the second good one, and
// belenios-tool verifies the board.
func TestVerifiableExternalCredentialsAndThresholdTrustees(t *testing.T) {
	g := belenios.Belenios2048()
	uuid, err := belenios.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	weights := []int64{2, 1, 1}
	roll := "voter_id,name,email,phone,weight\n"
	credentials := make([]string, n)
	var pcs []belenios.PublicCredential
	for i := 1; i <= n; i++ {
		roll += fmt.Sprintf("%s,Voter %d,%s,%s,%d\n", runtimetest.VoterID(i), i, runtimetest.VoterEmail(i), runtimetest.VoterPhone(i), weights[i-1])
		c, err := belenios.NewCredential()
		if err != nil {
			t.Fatal(err)
		}
		credentials[i-1] = c
		pcs = append(pcs, belenios.PublicCredential{Credential: belenios.PublicCredentialOf(g, c, uuid), Weight: weights[i-1], VoterID: runtimetest.VoterID(i)})
	}
	credsDir := t.TempDir()
	var pub bytes.Buffer
	if err := belenios.WritePubcreds(&pub, pcs); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(credsDir, "public-credentials"), pub.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(credsDir, "uuid"), []byte(uuid+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	entry, shares := pedersen2of3(t)
	extra := fmt.Sprintf(`    credentialAuthority: External
    publicCredentials: {name: credentials}
    trustees:
      platform: false
      threshold:
        trustees: '%s'
`, entry)
	r := startVerifiableRoll(t, "embedded", roll, n, extra, "--credentials-dir", credsDir)
	for i, v := range r.voters {
		v.credential = credentials[i]
	}
	rec := electionRecord(t, newVoter(r.rt.URL, nil))
	if rec.Election.UUID != uuid {
		t.Fatalf("the election's uuid is %s, the tenant's %s", rec.Election.UUID, uuid)
	}
	v1, v2, v3 := r.voters[0], r.voters[1], r.voters[2]
	v1.cast(t, rec, voteAliceCarla.plain)
	v2.cast(t, rec, voteBobDan.plain)
	v3.cast(t, rec, voteAliceCarlaDan.plain)
	v3.cast(t, rec, voteBlankEve.plain) // the last one counts

	if status, body := postDecryption(t, r.rt.URL, 1, []byte(`{"decryption_factors":[],"decryption_proofs":[]}`)); status != http.StatusTooEarly {
		t.Errorf("a partial decryption before the tally: %d %s, want 425", status, body)
	}
	r.closeNow(t)
	if status, _ := r.results(t); status != http.StatusConflict {
		t.Errorf("results before any trustee decrypted: %d, want 409", status)
	}
	board, err := belenios.ReadArchive(bytes.NewReader(mustRead(t, downloadBoard(t, r.rt.URL))))
	if err != nil {
		t.Fatal(err)
	}
	var et belenios.EncryptedTally
	if err := belenios.UnmarshalStrict(board.EncryptedTally, &et); err != nil {
		t.Fatal(err)
	}
	decrypt := func(member int) []byte {
		pd, err := belenios.PartialDecrypt(rec, shares[member-1], et)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := belenios.Marshal(pd)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	pd3, err := belenios.PartialDecrypt(rec, shares[2], et)
	if err != nil {
		t.Fatal(err)
	}
	p := pd3.DecryptionProofs[0][0].Response.Big()
	pd3.DecryptionProofs[0][0].Response = belenios.NewInt(new(big.Int).Mod(new(big.Int).Add(p, big.NewInt(1)), g.Q))
	wrong, err := belenios.Marshal(pd3)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := postDecryption(t, r.rt.URL, 3, wrong); status != http.StatusUnprocessableEntity {
		t.Errorf("a partial decryption with a wrong proof: %d %s, want 422", status, body)
	}
	if status, body := postDecryption(t, r.rt.URL, 2, decrypt(1)); status != http.StatusUnprocessableEntity {
		t.Errorf("trustee 1's partial decryption as trustee 2's: %d %s, want 422", status, body)
	}
	if status, body := postDecryption(t, r.rt.URL, 4, decrypt(1)); status != http.StatusNotFound {
		t.Errorf("a partial decryption of trustee 4 (of 3): %d %s, want 404", status, body)
	}
	if status, body := postDecryption(t, r.rt.URL, 1, decrypt(1)); status != http.StatusCreated {
		t.Fatalf("trustee 1's partial decryption: %d %s", status, body)
	}
	if status, body := postDecryption(t, r.rt.URL, 1, decrypt(1)); status != http.StatusConflict {
		t.Errorf("trustee 1's partial decryption again: %d %s, want 409", status, body)
	}
	if status, _ := r.results(t); status != http.StatusConflict {
		t.Errorf("results with one trustee of two: %d, want 409", status)
	}
	// the controller calls the close again until the result is in: the board
	// does not change
	before := mustRead(t, downloadBoard(t, r.rt.URL))
	if status, body := controlRaw(t, r.rt.OpsURL, r.token, http.MethodPost, "/control/v1/close", nil); status != http.StatusNoContent {
		t.Fatalf("close again: %d %s", status, body)
	}
	if after := mustRead(t, downloadBoard(t, r.rt.URL)); !bytes.Equal(before, after) {
		t.Error("closing again changed the board")
	}
	if status, body := postDecryption(t, r.rt.URL, 3, decrypt(3)); status != http.StatusCreated {
		t.Fatalf("trustee 3's partial decryption: %d %s", status, body)
	}
	status, results := r.results(t)
	if status != http.StatusOK {
		t.Fatalf("results once two trustees decrypted: %d", status)
	}
	checkResults(t, results, map[string]map[string]int64{
		"chair":   {"alice": 2, "bob": 1, "": 1},
		"council": {"carla": 2, "dan": 1, "eve": 1, "": 0},
	})
	archive := downloadBoard(t, r.rt.URL)
	out, code := beleniosVerify(t, archive)
	t.Logf("belenios-tool election verify (exit %d):\n%s", code, out)
	if code != 0 || !strings.Contains(out, "I: all checks passed") || strings.Contains(out, "no result") {
		t.Fatalf("belenios-tool does not verify the board: exit %d\n%s", code, out)
	}
	if data := mustRead(t, archive); bytes.Contains(data, wrong) {
		t.Error("the refused partial decryption is on the board")
	}
	if status, body := postDecryption(t, r.rt.URL, 2, decrypt(2)); status != http.StatusConflict {
		t.Errorf("a partial decryption after the result: %d %s, want 409", status, body)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestVerifiableLocalRun: the local run exactly as documented (no keys dir:
// the platform trustee's key is made once and kept in the store), killed and
// restarted mid-vote: the election record keeps its bytes, a voter's letter
// credential still signs, the re-vote after the restart is the one counted,
// and belenios-tool verifies the board.
func TestVerifiableLocalRun(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	election := filepath.Join(dir, "election.yaml")
	if err := os.WriteFile(election, []byte(verifiableYAML(now.Add(-time.Minute), now.Add(time.Hour), "    credentialAuthority: Platform\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.Start(t, runtimeBin, nil, "--election", election, "--roll", runtimetest.RollFile(t, dir, 2),
		"--store", "embedded:"+filepath.Join(dir, "data", "election.db"), "--smtp", smtp.Addr(),
		"--control-token-file", filepath.Join(dir, "control-token"))
	r := &verifiableRun{rt: rt, smtp: smtp, dir: dir, token: runtimetest.ReadFile(t, filepath.Join(dir, "control-token"))}
	credential := letterCredential(t, smtp, 1)
	v := &beleniosVoter{voter: newVoter(rt.URL, nil), id: runtimetest.VoterID(1), credential: credential}
	signIn(t, v.voter, smtp, 1)
	_, before := v.getRaw(t, "/api/v1/election.json")
	rec := electionRecord(t, v.voter)
	v.cast(t, rec, voteAliceCarla.plain)

	rt.Kill9()
	rt.Restart()
	v.voter = v.moveTo(rt.URL)
	if _, after := v.getRaw(t, "/api/v1/election.json"); !bytes.Equal(before, after) {
		t.Fatal("the election record changed across a restart")
	}
	v.cast(t, rec, voteBobCarlaEve.plain)
	r.closeNow(t)
	status, results := r.results(t)
	if status != http.StatusOK {
		t.Fatalf("results: %d", status)
	}
	checkResults(t, results, map[string]map[string]int64{
		"chair":   {"alice": 0, "bob": 1, "": 0},
		"council": {"carla": 1, "dan": 0, "eve": 1, "": 0},
	})
	out, code := beleniosVerify(t, downloadBoard(t, rt.URL))
	if code != 0 || !strings.Contains(out, "I: all checks passed") {
		t.Fatalf("belenios-tool does not verify the board: exit %d\n%s", code, out)
	}
}

// TestVerifiableConcurrentRevotes: one voter sends ten different ballots at
// once, through two runtime processes sharing one PostgreSQL database: every
// one is accepted and on the board, and exactly one is counted, the last on
// the board (Belenios's rule, which belenios-tool checks too).
func TestVerifiableConcurrentRevotes(t *testing.T) {
	r := startVerifiable(t, "postgres", 1, "", "--max-in-flight-per-session=0", stormFromOneAddressInFlight)
	other := runtimetest.Start(t, runtimeBin, nil, r.args...)
	v := r.voters[0]
	rec := electionRecord(t, v.voter)
	votes := []vote{voteAliceCarlaDan, voteBlankEve, voteBobDan, voteAliceCarla, voteBobCarlaEve}
	byTracker := map[string]vote{}
	raws := make([][]byte, 10)
	for i := range raws {
		raw, err := belenios.NewBallot(rec, v.credential, votes[i%len(votes)].plain)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = raw
		byTracker[belenios.Tracker(raw)] = votes[i%len(votes)]
	}
	statuses := make(chan int, len(raws))
	for i, raw := range raws {
		go func() {
			w := v
			if i%2 == 1 {
				w = &beleniosVoter{voter: v.moveTo(other.URL), id: v.id, credential: v.credential}
			}
			var ans castAnswerB
			status, err := w.call(http.MethodPost, "/api/v1/ballot", map[string]string{"belenios": string(raw)}, &ans)
			if err != nil {
				t.Error(err)
			}
			statuses <- status
		}()
	}
	for range raws {
		if s := <-statuses; s != http.StatusCreated {
			t.Errorf("a concurrent re-vote: %d, want 201", s)
		}
	}
	r.closeNow(t)
	archive := downloadBoard(t, r.rt.URL)
	board, err := belenios.ReadArchive(bytes.NewReader(mustRead(t, archive)))
	if err != nil {
		t.Fatal(err)
	}
	if len(board.Ballots) != len(raws) {
		t.Fatalf("%d ballots on the board, want %d", len(board.Ballots), len(raws))
	}
	last := byTracker[belenios.Tracker(board.Ballots[len(board.Ballots)-1])]
	want := map[string]map[string]int64{"chair": {"": 0, "alice": 0, "bob": 0}, "council": {"": 0, "carla": 0, "dan": 0, "eve": 0}}
	for q, ids := range last.answers {
		if len(ids) == 0 {
			want[q][""]++
		}
		for _, id := range ids {
			want[q][id]++
		}
	}
	status, results := r.results(t)
	if status != http.StatusOK {
		t.Fatalf("results: %d", status)
	}
	checkResults(t, results, want)
	if out, code := beleniosVerify(t, archive); code != 0 || !strings.Contains(out, "I: all checks passed") {
		t.Fatalf("belenios-tool does not verify the board: exit %d\n%s", code, out)
	}
}

// TestVerifiableKillDuringCasting: kill -9 the runtime (embedded store) while
// twenty voters cast encrypted ballots, and restart it; each voter retries
// until answered. Every ballot acknowledged is on the board, none twice, each
// voter is counted once, and belenios-tool verifies the board.
func TestVerifiableKillDuringCasting(t *testing.T) {
	const n = 20
	r := startVerifiable(t, "embedded", n, "", stormFromOneAddress, stormFromOneAddressAllRoutes, stormFromOneAddressInFlight)
	rec := electionRecord(t, newVoter(r.rt.URL, nil))
	votes := []vote{voteAliceCarlaDan, voteBlankEve, voteBobDan, voteAliceCarla, voteBobCarlaEve}
	raws := make([][]byte, n)
	want := map[string]map[string]int64{"chair": {"": 0, "alice": 0, "bob": 0}, "council": {"": 0, "carla": 0, "dan": 0, "eve": 0}}
	for i := range raws {
		raw, err := belenios.NewBallot(rec, r.voters[i].credential, votes[i%len(votes)].plain)
		if err != nil {
			t.Fatal(err)
		}
		raws[i] = raw
		for q, ids := range votes[i%len(votes)].answers {
			if len(ids) == 0 {
				want[q][""]++
			}
			for _, id := range ids {
				want[q][id]++
			}
		}
	}
	var mu sync.Mutex
	base := r.rt.URL
	acked := map[int]bool{}
	var once sync.Once
	var wg sync.WaitGroup
	deadline := time.Now().Add(3 * time.Minute)
	for i := range raws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				mu.Lock()
				v := &beleniosVoter{voter: r.voters[i].moveTo(base), id: r.voters[i].id}
				mu.Unlock()
				var ans castAnswerB
				status, err := v.call(http.MethodPost, "/api/v1/ballot", map[string]string{"belenios": string(raws[i])}, &ans)
				if err == nil && (status == http.StatusCreated || (status == http.StatusConflict && ans.Error == "ballot-on-board")) {
					mu.Lock()
					acked[i] = status == http.StatusCreated
					done := len(acked)
					mu.Unlock()
					if done == n/3 {
						go once.Do(func() {
							mu.Lock()
							defer mu.Unlock()
							r.rt.Kill9()
							r.rt.Restart()
							base = r.rt.URL
						})
					}
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Errorf("voter %d got no answer in time", i+1)
		}()
	}
	wg.Wait()
	r.closeNow(t)
	archive := downloadBoard(t, r.rt.URL)
	board, err := belenios.ReadArchive(bytes.NewReader(mustRead(t, archive)))
	if err != nil {
		t.Fatal(err)
	}
	on := map[string]int{}
	for _, b := range board.Ballots {
		on[belenios.Tracker(b)]++
	}
	receipts := 0
	for i, raw := range raws {
		if on[belenios.Tracker(raw)] != 1 {
			t.Errorf("voter %d's ballot is %d times on the board", i+1, on[belenios.Tracker(raw)])
		}
		if acked[i] {
			receipts++
		}
	}
	if len(board.Ballots) != n {
		t.Errorf("%d ballots on the board, want %d", len(board.Ballots), n)
	}
	status, results := r.results(t)
	if status != http.StatusOK {
		t.Fatalf("results: %d", status)
	}
	checkResults(t, results, want)
	if out, code := beleniosVerify(t, archive); code != 0 || !strings.Contains(out, "I: all checks passed") {
		t.Fatalf("belenios-tool does not verify the board: exit %d\n%s", code, out)
	}
	t.Logf("%d receipts, %d ballots landed while their receipt was lost", receipts, n-receipts)
}
