package main

// The verifiable mode's online commands against the real runtime binary (the
// embedded store), over its public port as voters and trustees reach it: vote,
// board download, verify, trustee decrypt and upload; and belenios-tool, when
// installed, checking the board the commands downloaded.

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

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// verifiableRuntime is a runtime in the verifiable mode and what a test needs
// of it.
type verifiableRuntime struct {
	rt    *runtimetest.Instance
	smtp  *sink.SMTPSink
	token string
	dir   string
}

func startVerifiableRuntime(t *testing.T, voters int, extra string, args ...string) *verifiableRuntime {
	t.Helper()
	now := time.Now()
	return startRuntimeWith(t, voters, runtimetest.VerifiableElectionYAML("{method: EmailCode, resendCooldown: 1s}", "{smtp: {secretRef: {name: smtp}}}", now.Add(-time.Minute), now.Add(time.Hour), extra), args...)
}

// startRuntimeWith starts the runtime on the Election manifest given.
func startRuntimeWith(t *testing.T, voters int, manifest string, args ...string) *verifiableRuntime {
	t.Helper()
	bin, err := runtimetest.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &verifiableRuntime{smtp: sink.StartSMTP(t), token: "control-token-of-the-verifiable-tests", dir: t.TempDir()}
	keys := filepath.Join(r.dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, controlTokenKey), []byte(r.token), 0o600); err != nil {
		t.Fatal(err)
	}
	election := filepath.Join(r.dir, "election.yaml")
	if err := os.WriteFile(election, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	r.rt = runtimetest.Start(t, bin, nil, append([]string{"--election", election,
		"--roll", runtimetest.RollFile(t, r.dir, voters), "--store", "embedded:" + filepath.Join(r.dir, "e.db"),
		"--smtp", r.smtp.Addr(), "--keys-dir", keys}, args...)...)
	return r
}

// control calls the runtime's control API.
func (r *verifiableRuntime) control(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.rt.OpsURL+path, rd)
	req.Header.Set("Authorization", "Bearer "+r.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// closeNow moves the close to now and closes the vote, through the control
// API, as the controller does.
func (r *verifiableRuntime) closeNow(t *testing.T) {
	t.Helper()
	now := time.Now().UTC()
	sc := map[string]any{"opensAt": now.Add(-time.Hour), "closesAt": now, "version": 2}
	if status, body := r.control(t, http.MethodPost, "/control/v1/schedule", sc); status != http.StatusOK {
		t.Fatalf("schedule: %d %s", status, body)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := r.control(t, http.MethodPost, "/control/v1/close", nil)
		if status == http.StatusNoContent {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("close: %d %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// results reads the results through the control API: question -> option (or
// "blank") -> votes.
func (r *verifiableRuntime) results(t *testing.T) (int, map[string]map[string]int64) {
	t.Helper()
	status, body := r.control(t, http.MethodGet, "/control/v1/results", nil)
	if status != http.StatusOK {
		return status, nil
	}
	out, err := runtimetest.ResultCounts(body)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

// letterCredential is the Belenios credential in voter i's letter.
func (r *verifiableRuntime) letterCredential(t *testing.T, i int) string {
	t.Helper()
	m, err := r.smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(m.Body) {
		f = strings.Trim(f, ".,;:()")
		if len(f) == 19 && belenios.CheckCredential(f) == nil {
			return f
		}
	}
	t.Fatalf("no Belenios credential in voter %d's letter", i)
	return ""
}

// code waits for the next sign-in code mailed to voter i.
func (r *verifiableRuntime) code(t *testing.T, i int) string {
	t.Helper()
	m, err := r.smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := sink.CodeIn(m.Body)
	if c == "" {
		t.Fatalf("no code in the mail to voter %d", i)
	}
	return c
}

// session is a plugin command running with a stdin the test writes to.
type session struct {
	in     *io.PipeWriter
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan int
	args   []string
}

func startSession(args ...string) *session {
	pr, pw := io.Pipe()
	s := &session{in: pw, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1), args: args}
	go func() {
		s.done <- run(context.Background(), args, pr, s.stdout, s.stderr)
		pr.Close()
	}()
	return s
}

func (s *session) write(t *testing.T, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(s.in, l+"\n"); err != nil {
			t.Fatalf("writing %q to the command: %v (stderr: %s)", l, err, s.stderr.String())
		}
	}
}

func (s *session) wait(t *testing.T) result {
	t.Helper()
	s.in.Close()
	select {
	case code := <-s.done:
		r := result{stdout: s.stdout.String(), stderr: s.stderr.String(), code: code}
		t.Logf("kubectl scrutin %s\n-> exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(s.args, " "), r.code, r.stdout, r.stderr)
		return r
	case <-time.After(3 * time.Minute):
		t.Fatalf("kubectl scrutin %s did not end; stderr:\n%s", strings.Join(s.args, " "), s.stderr.String())
	}
	return result{}
}

func writeSecretFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// voteWithFlags votes as voter i with flags for everything but the code, which
// is typed when the mail arrives.
func (r *verifiableRuntime) voteWithFlags(t *testing.T, i int, credential string, choices ...string) result {
	t.Helper()
	args := []string{"vote", "--url", r.rt.URL, "--voter-id", runtimetest.VoterID(i), "--credential-file", writeSecretFile(t, "cred", credential)}
	args = append(args, choices...)
	s := startSession(args...)
	code := r.code(t, i)
	s.write(t, code)
	res := s.wait(t)
	mustNotContain(t, "the vote's output", res.stdout+res.stderr, code, credential)
	return res
}

// beleniosToolVerify runs Debian's belenios-tool on the archive, when installed.
func beleniosToolVerify(t *testing.T, archive string) {
	t.Helper()
	tool, err := exec.LookPath("belenios-tool")
	if err != nil {
		t.Log("belenios-tool is not installed: the independent check is skipped")
		return
	}
	dir := t.TempDir()
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(archive)), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "election", "verify", "--dir", dir)
	cmd.Env = append(os.Environ(), "BELENIOS_USE_URANDOM=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "I: all checks passed") {
		t.Fatalf("belenios-tool election verify on the downloaded board: %v\n%s", err, out)
	}
	t.Logf("belenios-tool election verify:\n%s", out)
}

// TestVoteBoardDownloadAndVerifyAgainstTheRuntime: voters vote with kubectl
// scrutin vote (flags, and interactively as a screen reader user would),
// one votes again, a credential not the voter's is refused in plain words;
// after the close, board download saves <uuid>.bel, verify passes on it and
// fails on a tampered copy, belenios-tool passes on it, and the runtime's
// results are the counts of what the voters chose, the re-vote counted once.
func TestVoteBoardDownloadAndVerifyAgainstTheRuntime(t *testing.T) {
	r := startVerifiableRuntime(t, 4, "    credentialAuthority: Platform\n")
	creds := map[int]string{}
	for i := 1; i <= 4; i++ {
		creds[i] = r.letterCredential(t, i)
	}

	// Voter 1, by flags: alice; carla and dan.
	res := r.voteWithFlags(t, 1, creds[1], "--choice", "chair=alice", "--choice", "council=carla,dan")
	if res.code != 0 {
		t.Fatalf("voter 1: exit %d", res.code)
	}
	first := strings.TrimSpace(res.stdout)
	if len(first) != 43 {
		t.Fatalf("voter 1's tracker %q is not a base64 SHA-256", first)
	}
	for _, secret := range []string{creds[1]} {
		mustNotContain(t, "voter 1's output", res.stdout+res.stderr, secret)
	}

	// Voter 2, interactively: the prompts list questions and options in plain
	// text; answers the question does not take are asked again; a blank vote
	// for chair, eve for council; the credential typed.
	s := startSession("vote", "--url", r.rt.URL)
	s.write(t, runtimetest.VoterID(2))
	s.write(t, r.code(t, 2), creds[2], "5", "0", "1,2,3", "3", "yes")
	res = s.wait(t)
	if res.code != 0 {
		t.Fatalf("voter 2: exit %d", res.code)
	}
	mustContain(t, "voter 2's prompts", res.stderr,
		"Question 1 of 2: Who should chair?", "1. Alice", "2. Bob", "0. Blank vote",
		"Question 2 of 2: Elect the council", "Choose from 1 to 2 options.", "3. Eve",
		"blank vote", "Cast this ballot?",
		"5 is not one of the numbers listed. Try again.", `question "council": choose from 1 to 2 options, not 3. Try again.`)
	mustNotContain(t, "voter 2's output", res.stdout+res.stderr, creds[2])

	// Voter 3 types voter 2's credential: refused, in plain words.
	res = r.voteWithFlags(t, 3, creds[2], "--choice", "chair=bob", "--choice", "council=dan")
	if res.code == 0 {
		t.Fatal("a ballot signed with another voter's credential was accepted")
	}
	mustContain(t, "voter 3's error", res.stderr, "the credential is not yours")
	// Choices the question does not take are refused before anything is cast
	// (the board holds no ballot of voter 4's, below).
	res = r.voteWithFlags(t, 4, creds[4], "--choice", "chair=alice,bob", "--choice", "council=dan")
	if res.code == 0 {
		t.Fatal("two choices for a single-choice question were taken")
	}
	mustContain(t, "voter 4's error", res.stderr, `question "chair": choose 1 option, not 2`)

	// Voter 1 votes again: bob; eve. Only this one counts.
	res = r.voteWithFlags(t, 1, creds[1], "--choice", "chair=bob", "--choice", "council=eve")
	if res.code != 0 {
		t.Fatalf("voter 1's second vote: exit %d", res.code)
	}
	mustContain(t, "voter 1's second vote", res.stderr, "You have already voted")
	second := strings.TrimSpace(res.stdout)

	r.closeNow(t)
	got := r.waitResults(t, "no results 2 minutes after the close")
	want := map[string]map[string]int64{
		"chair":   {"blank": 1, "alice": 0, "bob": 1},
		"council": {"blank": 0, "carla": 0, "dan": 0, "eve": 2},
	}
	for q, opts := range want {
		for o, n := range opts {
			if got[q][o] != n {
				t.Errorf("results[%s][%s] = %d, want %d (all: %v)", q, o, got[q][o], n, got)
			}
		}
	}

	// board download names the file after the uuid; verify checks it.
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	res = offline(t, "", "board", "download", "--url", r.rt.URL)
	os.Chdir(wd)
	if res.code != 0 {
		t.Fatalf("board download: exit %d", res.code)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.bel"))
	if len(files) != 1 {
		t.Fatalf("board download wrote %v, want one <uuid>.bel", files)
	}
	board := files[0]
	raw, _ := os.ReadFile(board)
	archive, err := belenios.ReadArchive(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	e, err := belenios.ParseElection(archive.Election)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(board) != e.Election.UUID+".bel" {
		t.Errorf("the board is saved as %s, want %s.bel", filepath.Base(board), e.Election.UUID)
	}
	trackers := map[string]bool{}
	for _, b := range archive.Ballots {
		trackers[belenios.Tracker(b)] = true
	}
	if len(archive.Ballots) != 3 || !trackers[first] || !trackers[second] {
		t.Errorf("the board holds %d ballots; voter 1's trackers on it: %v %v (want 3 ballots, both)", len(archive.Ballots), trackers[first], trackers[second])
	}

	res = offline(t, "", "verify", board)
	if res.code != 0 {
		t.Fatalf("verify: exit %d", res.code)
	}
	mustContain(t, "verify", res.stdout, "all checks passed")
	beleniosToolVerify(t, board)

	// Voters find their trackers: voter 1's first ballot replaced by their
	// second, which is counted; a tracker of no ballot is an error.
	res = offline(t, "", "verify", board, "--tracker", first, "--tracker", second)
	if res.code != 0 {
		t.Fatalf("verify --tracker: exit %d", res.code)
	}
	mustContain(t, "verify --tracker", res.stdout,
		"tracker "+first+": on the board, replaced by a later ballot under the same credential ("+second+")",
		"tracker "+second+": on the board, counted")
	res = offline(t, "", "verify", board, "--tracker", second, "--tracker", strings.Repeat("A", 43))
	if res.code == 0 {
		t.Fatal("verify --tracker passed a tracker of no ballot")
	}
	mustContain(t, "verify --tracker", res.stdout, "tracker "+strings.Repeat("A", 43)+": NOT on the board")

	// Tampered boards, their chain rebuilt so that only the change is wrong:
	// verify fails on each, naming what is wrong.
	tamper := func(what string, change func(a *belenios.Archive), want string) {
		t.Helper()
		a, err := belenios.ReadArchive(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		change(a)
		var out bytes.Buffer
		if err := belenios.WriteArchive(&out, a); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), e.Election.UUID+".bel")
		if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		res := offline(t, "", "verify", p)
		if res.code == 0 {
			t.Fatalf("verify passed a board with %s", what)
		}
		mustNotContain(t, "verify of a board with "+what, res.stdout, "all checks passed")
		mustContain(t, "verify of a board with "+what, res.stderr, "verification FAILED", want)
	}
	tamper("a digit of a ballot changed", func(a *belenios.Archive) {
		b := bytes.Clone(a.Ballots[0])
		i := bytes.Index(b, []byte(`"alpha":"`)) + len(`"alpha":"`)
		b[i] = map[bool]byte{true: '2', false: '1'}[b[i] == '1']
		a.Ballots[0] = b
	}, "ballot")
	// The last ballot is voter 1's counted one: without it their first counts,
	// and the published tally and result no longer follow from the ballots.
	tamper("a counted ballot dropped", func(a *belenios.Archive) {
		if belenios.Tracker(a.Ballots[len(a.Ballots)-1]) != second {
			t.Fatal("the board's last ballot is not voter 1's second")
		}
		a.Ballots = a.Ballots[:len(a.Ballots)-1]
	}, "tally")
	tamper("a changed result", func(a *belenios.Archive) {
		a.Result = bytes.Replace(a.Result, []byte(`[0,0,2]`), []byte(`[0,1,1]`), 1)
		if !bytes.Contains(a.Result, []byte(`[0,1,1]`)) {
			t.Fatalf("the result %s is not the one expected", a.Result)
		}
	}, "result")
}

// TestTrusteesDecryptAndUploadAgainstTheRuntime: an Election whose
// credentials the tenant made offline (credentials generate), whose key is
// held by the platform's trustee, an external trustee (trustee keygen) and
// three trustees of whom two suffice (trustee ceremony). Voters vote with the
// private credentials of the file. After the close, no result until the
// trustees decrypt: the external trustee's key finds its owner by itself, a
// wrong --owner is refused naming the right one, one member uploads directly
// and another writes the file on an "air-gapped" machine from a saved board
// and uploads it with trustee upload, a second upload is answered as already
// recorded; then the results are what the voters chose, and verify and
// belenios-tool pass on the board.
func TestTrusteesDecryptAndUploadAgainstTheRuntime(t *testing.T) {
	// The tenant's credentials, offline.
	rollDir := t.TempDir()
	roll := runtimetest.RollFile(t, rollDir, 3)
	credDir := filepath.Join(t.TempDir(), "creds")
	if res := offline(t, "", "credentials", "generate", "--roll", roll, "--out", credDir); res.code != 0 {
		t.Fatalf("credentials generate: exit %d", res.code)
	}
	privs := privateCredentials(t, filepath.Join(credDir, "private-credentials"))

	// The trustees' keys, offline.
	aliceDir := t.TempDir()
	res := offline(t, "", "trustee", "keygen", "--out", aliceDir, "--name", "alice")
	if res.code != 0 {
		t.Fatalf("trustee keygen: exit %d", res.code)
	}
	alicePub := strings.TrimSpace(res.stdout)
	entry, shares := ceremony(t, 2, 3)

	extra := fmt.Sprintf(`    credentialAuthority: External
    publicCredentials: {name: creds}
    trustees:
      platform: true
      external:
      - name: alice
        publicKey: '%s'
      threshold:
        trustees: '%s'
`, alicePub, entry)
	r := startVerifiableRuntime(t, 3, extra, "--credentials-dir", credDir)

	// Owners: the platform 1, alice 2, the members 3, 4 and 5.
	for i, choices := range [][]string{
		{"--choice", "chair=alice", "--choice", "council=carla,dan"},
		{"--choice", "chair=alice", "--choice", "council=dan"},
		{"--blank", "chair", "--choice", "council=eve"},
	} {
		res := r.voteWithFlags(t, i+1, privs[runtimetest.VoterID(i+1)], choices...)
		if res.code != 0 {
			t.Fatalf("voter %d: exit %d", i+1, res.code)
		}
	}
	alice := filepath.Join(aliceDir, "alice.privkey")
	res = offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", alice)
	if res.code == 0 {
		t.Fatal("a trustee decrypted before the close")
	}
	mustContain(t, "decrypt before the close", res.stderr, "no encrypted tally yet")
	r.closeNow(t)
	if status, _ := r.results(t); status == http.StatusOK {
		t.Fatal("results before the external trustees decrypted")
	}

	// Before the tally is on the board, or with a key of no trustee, nothing
	// is uploaded; the external trustee's key finds its owner.
	other := t.TempDir()
	if res := offline(t, "", "trustee", "keygen", "--out", other); res.code != 0 {
		t.Fatal("keygen")
	}
	res = offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", filepath.Join(other, "trustee.privkey"))
	if res.code == 0 {
		t.Fatal("a key of no trustee decrypted")
	}
	mustContain(t, "decrypt with a stranger's key", res.stderr, "not the key of any trustee")

	res = offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", alice, "--owner", "3")
	if res.code == 0 {
		t.Fatal("alice's key was taken as owner 3's")
	}
	mustContain(t, "decrypt with a wrong owner", res.stderr, "trustee 2's key, not trustee 3's", "--owner 2")
	res = offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", alice)
	if res.code != 0 {
		t.Fatalf("alice's decrypt: exit %d", res.code)
	}
	mustContain(t, "alice's decrypt", res.stderr, "The key is trustee 2's.", "accepted trustee 2's partial decryption")
	// Running it again does nothing, and says so; so does uploading it again.
	res = offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", alice)
	if res.code != 0 {
		t.Fatalf("alice's second decrypt: exit %d", res.code)
	}
	mustContain(t, "alice's second decrypt", res.stderr, "already on the board: nothing more to do")
	mustNotContain(t, "alice's second decrypt", res.stderr, "accepted")
	alicePD := filepath.Join(t.TempDir(), "alice.pd.json")
	if res := offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", alice, "--out", alicePD); res.code != 0 {
		t.Fatalf("alice's decrypt --out: exit %d", res.code)
	}
	res = offline(t, "", "trustee", "upload", "--url", r.rt.URL, "--owner", "2", alicePD)
	if res.code != 0 {
		t.Fatalf("alice's second upload: exit %d", res.code)
	}
	mustContain(t, "alice's second upload", res.stderr, "already on the board: nothing more to do")
	// A partial decryption uploaded as another trustee's: its proof fails
	// against that trustee's key, and it is refused.
	res = offline(t, "", "trustee", "upload", "--url", r.rt.URL, "--owner", "4", alicePD)
	if res.code == 0 {
		t.Fatal("alice's partial decryption was accepted as trustee 4's")
	}
	mustContain(t, "alice's upload as trustee 4", res.stderr, "proof does not check against trustee 4's public key")

	// Member 1 (owner 3) uploads directly.
	if res := offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", shares[0], "--owner", "3"); res.code != 0 {
		t.Fatalf("member 1's decrypt: exit %d", res.code)
	}
	if status, _ := r.results(t); status == http.StatusOK {
		t.Fatal("results with one of the two members needed")
	}
	// Member 3 (owner 5) is air-gapped: the board is carried over, the
	// partial decryption carried back.
	boardFile := filepath.Join(t.TempDir(), "board.bel")
	if res := offline(t, "", "board", "download", "--url", r.rt.URL, "-o", boardFile); res.code != 0 {
		t.Fatalf("board download: exit %d", res.code)
	}
	pdFile := filepath.Join(t.TempDir(), "member3.pd.json")
	if res := offline(t, "", "trustee", "decrypt", "--board", boardFile, "--key", shares[2], "--out", pdFile); res.code != 0 {
		t.Fatalf("member 3's offline decrypt: exit %d", res.code)
	}
	if status, _ := r.results(t); status == http.StatusOK {
		t.Fatal("results before member 3's partial decryption was uploaded")
	}
	if res := offline(t, "", "trustee", "upload", "--url", r.rt.URL, "--owner", "5", pdFile); res.code != 0 {
		t.Fatalf("member 3's upload: exit %d", res.code)
	}

	got := r.waitResults(t, "no results 2 minutes after enough trustees decrypted")
	want := map[string]map[string]int64{
		"chair":   {"blank": 1, "alice": 2, "bob": 0},
		"council": {"carla": 1, "dan": 2, "eve": 1},
	}
	for q, opts := range want {
		for o, n := range opts {
			if got[q][o] != n {
				t.Errorf("results[%s][%s] = %d, want %d (all: %v)", q, o, got[q][o], n, got)
			}
		}
	}
	final := filepath.Join(t.TempDir(), "final.bel")
	if res := offline(t, "", "board", "download", "--url", r.rt.URL, "-o", final); res.code != 0 {
		t.Fatalf("board download: exit %d", res.code)
	}
	res = offline(t, "", "verify", final)
	if res.code != 0 {
		t.Fatalf("verify: exit %d", res.code)
	}
	mustContain(t, "verify", res.stdout, "trustees: 5", "partial decryptions checked: trustees 1, 2, 3, 5", "all checks passed")
	beleniosToolVerify(t, final)
	// Once the result is out, a trustee's decrypt has nothing to do.
	res = offline(t, "", "trustee", "decrypt", "--url", r.rt.URL, "--key", shares[1])
	if res.code != 0 {
		t.Fatalf("member 2's decrypt after the result: exit %d", res.code)
	}
	mustContain(t, "member 2's decrypt after the result", res.stderr, "already holds the result")
	// No private credential, key or share in any output.
	for _, c := range privs {
		mustNotContain(t, "the outputs", res.stdout+res.stderr, c)
	}
}

// TestVoteWithTheCredentialMethod: with the Credential sign-in method, the
// letter carries the sign-in credential and the Belenios credential; vote
// signs in with the first (from --code-file), signs the ballot with the
// second, and neither appears in its output; a malformed Belenios credential
// is refused before any sign-in, a wrong sign-in credential in plain words,
// with the attempts left.
func TestVoteWithTheCredentialMethod(t *testing.T) {
	now := time.Now()
	manifest := runtimetest.VerifiableElectionYAML("{method: Credential}", "{smtp: {secretRef: {name: smtp}}}", now.Add(-time.Minute), now.Add(time.Hour), "")
	r := startRuntimeWith(t, 1, manifest)
	m, err := r.smtp.WaitFor(runtimetest.VoterEmail(1), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	signIn := sink.CredentialIn(m.Body)
	var cred string
	for _, f := range strings.Fields(m.Body) {
		if f = strings.Trim(f, ".,;:()"); len(f) == 19 && belenios.CheckCredential(f) == nil {
			cred = f
		}
	}
	if signIn == "" || cred == "" {
		t.Fatalf("the letter lacks a sign-in credential or a Belenios credential:\n%s", m.Body)
	}
	credFile := writeSecretFile(t, "belenios", cred)

	// A credential file holding no credential is refused before signing in
	// (the wrong sign-in below is the first the runtime counts).
	res := offline(t, "", "vote", "--url", r.rt.URL, "--voter-id", runtimetest.VoterID(1),
		"--code-file", writeSecretFile(t, "wrong", "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-A"), "--credential-file", writeSecretFile(t, "typo", "ABC-DEF"), "--choice", "chair=bob", "--choice", "council=eve")
	if res.code == 0 {
		t.Fatal("a malformed Belenios credential was taken")
	}
	mustContain(t, "a malformed credential", res.stderr, "not a Belenios credential")

	res = offline(t, "", "vote", "--url", r.rt.URL, "--voter-id", runtimetest.VoterID(1),
		"--code-file", writeSecretFile(t, "wrong", "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-A"), "--credential-file", credFile, "--choice", "chair=bob", "--choice", "council=eve")
	if res.code == 0 {
		t.Fatal("a wrong sign-in credential signed in")
	}
	mustContain(t, "a wrong sign-in credential", res.stderr, "wrong sign-in credential (4 attempts left)")

	res = offline(t, "", "vote", "--url", r.rt.URL, "--voter-id", runtimetest.VoterID(1),
		"--code-file", writeSecretFile(t, "signin", signIn), "--credential-file", credFile, "--choice", "chair=bob", "--choice", "council=eve,carla")
	if res.code != 0 {
		t.Fatalf("vote: exit %d", res.code)
	}
	mustNotContain(t, "the vote's output", res.stdout+res.stderr, signIn, cred)
	mustNotContain(t, "the vote's prompts", res.stderr, "A code was sent")
	tracker := strings.TrimSpace(res.stdout)
	board := filepath.Join(t.TempDir(), "b.bel")
	if res := offline(t, "", "board", "download", "--url", r.rt.URL, "-o", board); res.code != 0 {
		t.Fatal("board download")
	}
	raw, _ := os.ReadFile(board)
	a, err := belenios.ReadArchive(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Ballots) != 1 || belenios.Tracker(a.Ballots[0]) != tracker {
		t.Fatalf("the board holds %d ballots, not the one whose tracker vote printed", len(a.Ballots))
	}
}

// TestVoteRefusesAnElectionNotInTheVerifiableModeBeforeSigningIn: against an
// ordinary election's runtime, vote says what is wrong and sends no code.
func TestVoteRefusesAnElectionNotInTheVerifiableModeBeforeSigningIn(t *testing.T) {
	now := time.Now()
	r := startRuntimeWith(t, 1, runtimetest.ElectionYAML("EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""))
	res := offline(t, "", "vote", "--url", r.rt.URL, "--voter-id", runtimetest.VoterID(1), "--choice", "chair=alice")
	if res.code == 0 {
		t.Fatal("vote succeeded against an election not in the verifiable mode")
	}
	mustContain(t, "vote against an ordinary election", res.stderr, "publishes no election record", "verifiable mode")
	if n := len(r.smtp.Messages()); n != 0 {
		t.Errorf("%d mails sent: vote signed in before finding the election is not verifiable", n)
	}
}

// waitResults waits up to 2 minutes for the runtime's results; what says what
// they were waited for after.
func (r *verifiableRuntime) waitResults(t *testing.T, what string) map[string]map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, got := r.results(t)
		if status == http.StatusOK {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (HTTP %d)", what, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
