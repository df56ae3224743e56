package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// The verifiable mode (Belenios) under load: the Election's credentials are
// made offline by the load generator, as a tenant's credential authority does
// (External), so that every simulated voter holds its private credential; each
// voter's ballot is encrypted and proven before the timed run (about 0.1 s of
// CPU each) and the journey posts it as {"belenios": …}.

// Vote is one voter's choices in the Election of VerifiableElectionYAML: the
// plaintext its ballot encrypts and the same choices by option id (an empty
// list is a blank answer).
type Vote struct {
	Plain   belenios.Plaintext
	Answers map[string][]string
}

// VerifiableVotes are the votes simulated voters cast, voter i the vote
// VerifiableVotes[i % len]: chair slots blank, alice, bob; council slots carla,
// dan, eve.
var VerifiableVotes = []Vote{
	{belenios.Plaintext{{0, 1, 0}, {1, 1, 0}}, map[string][]string{"chair": {"alice"}, "council": {"carla", "dan"}}},
	{belenios.Plaintext{{1, 0, 0}, {0, 0, 1}}, map[string][]string{"chair": {}, "council": {"eve"}}},
	{belenios.Plaintext{{0, 0, 1}, {0, 1, 0}}, map[string][]string{"chair": {"bob"}, "council": {"dan"}}},
	{belenios.Plaintext{{0, 1, 0}, {1, 0, 0}}, map[string][]string{"chair": {"alice"}, "council": {"carla"}}},
	{belenios.Plaintext{{0, 0, 1}, {1, 0, 1}}, map[string][]string{"chair": {"bob"}, "council": {"carla", "eve"}}},
}

// VoteOf is voter i's vote.
func VoteOf(i int) Vote { return VerifiableVotes[i%len(VerifiableVotes)] }

// Credentials are an election's Belenios credentials made offline, as the
// tenant's credential authority makes them: voter i's private credential is
// Private[i-1]; only the public ones go to the runtime.
type Credentials struct {
	UUID    string
	Private []string
	Public  []belenios.PublicCredential
}

// NewCredentials makes a uuid and a credential for each of voters
// VoterID(1) … VoterID(n) (weight 1), on every core.
func NewCredentials(n int, voterID func(int) string) (*Credentials, error) {
	uuid, err := belenios.NewUUID()
	if err != nil {
		return nil, err
	}
	c := &Credentials{UUID: uuid, Private: make([]string, n), Public: make([]belenios.PublicCredential, n)}
	g := belenios.Belenios2048()
	var (
		mu    sync.Mutex
		first error
	)
	Parallel(runtime.NumCPU(), n, func(i int) {
		cred, err := belenios.NewCredential()
		if err != nil {
			mu.Lock()
			first = errors.Join(first, err)
			mu.Unlock()
			return
		}
		c.Private[i] = cred
		c.Public[i] = belenios.PublicCredential{Credential: belenios.PublicCredentialOf(g, cred, uuid), Weight: 1, VoterID: voterID(i + 1)}
	})
	if first != nil {
		return nil, first
	}
	return c, nil
}

// WriteDir writes what the runtime's --credentials-dir holds: uuid and
// public-credentials (the .pubcreds file). The private credentials stay here.
func (c *Credentials) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var pub bytes.Buffer
	if err := belenios.WritePubcreds(&pub, c.Public); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "public-credentials"), pub.Bytes(), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "uuid"), []byte(c.UUID+"\n"), 0o600)
}

// EncryptedBallots are the simulated voters' ballots, made before the run.
type EncryptedBallots struct {
	// Election is the election record the ballots are for.
	Election *belenios.ElectionRecord
	first    int
	raw      [][]byte
	votes    []Vote
	byTrack  map[string]int // tracker -> voter
}

// ElectionRecord GETs base's /api/v1/election.json (the runtime publishes it
// once the vote is open) and parses it.
func ElectionRecord(ctx context.Context, base string) (*belenios.ElectionRecord, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/election.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("election.json: HTTP %d %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return belenios.ParseElection(raw)
}

// PrepareBallots encrypts and proves voter first+i's ballot (vote(first+i),
// signed with credential(first+i)) for i in 0..n-1, from workers goroutines (0:
// one per core).
func PrepareBallots(rec *belenios.ElectionRecord, first, n, workers int, credential func(int) string, vote func(int) Vote) (*EncryptedBallots, error) {
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	b := &EncryptedBallots{Election: rec, first: first, raw: make([][]byte, n), votes: make([]Vote, n), byTrack: make(map[string]int, n)}
	errs := make([]error, n)
	Parallel(workers, n, func(i int) {
		v := vote(first + i)
		raw, err := belenios.NewBallot(rec, credential(first+i), v.Plain)
		if err != nil {
			errs[i] = fmt.Errorf("voter %d's ballot: %w", first+i, err)
			return
		}
		b.raw[i], b.votes[i] = raw, v
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, raw := range b.raw {
		b.byTrack[belenios.Tracker(raw)] = first + i
	}
	return b, nil
}

// Next is the first voter after b's (first when b is nil).
func (b *EncryptedBallots) Next(first int) int {
	if b == nil {
		return first
	}
	return b.first + len(b.raw)
}

// Append adds more's ballots, made for the voters that follow b's, for the
// same election.
func (b *EncryptedBallots) Append(more *EncryptedBallots) error {
	if more.first != b.Next(0) || more.Election != b.Election {
		return fmt.Errorf("ballots from voter %d do not follow voter %d's for the same election", more.first, b.Next(0)-1)
	}
	b.raw = append(b.raw, more.raw...)
	b.votes = append(b.votes, more.votes...)
	for t, i := range more.byTrack {
		b.byTrack[t] = i
	}
	return nil
}

// Ballot is voter i's encrypted ballot, nil when none was made.
func (b *EncryptedBallots) Ballot(i int) []byte {
	if i < b.first || i-b.first >= len(b.raw) {
		return nil
	}
	return b.raw[i-b.first]
}

// Voter is the voter whose ballot has this tracker (0 when none).
func (b *EncryptedBallots) Voter(tracker string) int { return b.byTrack[tracker] }

// Expected is the result of the ballots whose trackers are receipts, each
// counted once: per question, votes per option and blank answers.
func (b *EncryptedBallots) Expected(receipts []string) map[string]map[string]int64 {
	want := map[string]map[string]int64{}
	seen := map[int]bool{}
	for _, t := range receipts {
		i := b.Voter(t)
		if i == 0 || seen[i] {
			continue
		}
		seen[i] = true
		for q, opts := range b.votes[i-b.first].Answers {
			if want[q] == nil {
				want[q] = map[string]int64{}
			}
			if len(opts) == 0 {
				want[q][""]++ // blank
			}
			for _, o := range opts {
				want[q][o]++
			}
		}
	}
	return want
}

// BoardCheck is what CloseAndCheckBoard found.
type BoardCheck struct {
	// Ballots on the board, in order.
	Ballots int
	// Missing are receipts whose ballot is not on the board; Repeated those on it
	// more than once; Extra counts ballots on the board beyond the receipts.
	Missing, Repeated []string
	Extra             int
	// Counted is the runtime's count of voters who voted (ballotsCast).
	Counted int64
	// Results are the runtime's results; Wrong lists where they differ from the
	// plaintexts of the receipts' ballots, each voter counted once.
	Results []scrutinv1.QuestionResult
	Wrong   []string
	// Result says the board holds the end of the ballots, the tally and the
	// result.
	Result bool
	// Size of the archive in bytes.
	Size int64
}

// OK says every receipt's ballot is on the board once, no other ballot is, the
// runtime counted each voter once and its results are the plaintexts'.
func (c *BoardCheck) OK(receipts int) bool {
	return len(c.Missing) == 0 && len(c.Repeated) == 0 && c.Extra == 0 && c.Counted == int64(receipts) && len(c.Wrong) == 0 && c.Result
}

func (c *BoardCheck) String() string {
	wrong := "none"
	if len(c.Wrong) > 0 {
		wrong = strings.Join(c.Wrong, "; ")
	}
	return fmt.Sprintf("%d ballots on the board (%d bytes), %d receipts missing, %d repeated, %d beyond the receipts; %d voters counted; result on the board %v; results differing from the plaintexts: %s",
		c.Ballots, c.Size, len(c.Missing), len(c.Repeated), c.Extra, c.Counted, c.Result, wrong)
}

// CloseAndCheckBoard closes the vote (CloseVote) and checks the board and the
// results against the receipts (CheckBoard).
func (r *Runtime) CloseAndCheckBoard(ctx context.Context, ballots *EncryptedBallots, receipts []string) (*BoardCheck, error) {
	if err := r.CloseVote(ctx); err != nil {
		return nil, err
	}
	return r.CheckBoard(ctx, ballots, receipts)
}

// CloseVote closes the vote as the controller does: the schedule's close moved
// to now, then the close, called until the schedule's close has passed. In the
// verifiable mode with the platform's trustee alone, the result follows.
func (r *Runtime) CloseVote(ctx context.Context) error {
	now := time.Now()
	sc := map[string]any{"opensAt": now.Add(-time.Hour).UTC().Format(time.RFC3339), "closesAt": now.Add(time.Second).UTC().Format(time.RFC3339), "version": now.Unix()}
	if status, body, err := r.controlRaw(ctx, http.MethodPost, "/control/v1/schedule", sc); err != nil || status != http.StatusOK {
		return fmt.Errorf("schedule: HTTP %d %s %v", status, body, err)
	}
	for {
		status, body, err := r.controlRaw(ctx, http.MethodPost, "/control/v1/close", nil)
		if err != nil {
			return err
		}
		if status == http.StatusNoContent {
			return nil
		}
		if status != http.StatusConflict {
			return fmt.Errorf("close: HTTP %d %s", status, body)
		}
		select { // until the schedule's close has passed
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// CheckBoard reads the results (control API) and the board (GET
// /api/v1/board.bel, read with belenios.ReadArchive) and checks every
// receipt's ballot against them. Every voter votes once in a load run, so each
// receipt is a voter of its own.
func (r *Runtime) CheckBoard(ctx context.Context, ballots *EncryptedBallots, receipts []string) (*BoardCheck, error) {
	var res struct {
		BallotsCast int64                      `json:"ballotsCast"`
		Results     []scrutinv1.QuestionResult `json:"results"`
	}
	if err := r.Control(ctx, http.MethodGet, "/control/v1/results", &res); err != nil {
		return nil, err
	}
	archive, size, err := r.board(ctx)
	if err != nil {
		return nil, err
	}
	c := &BoardCheck{Ballots: len(archive.Ballots), Counted: res.BallotsCast, Results: res.Results, Size: size,
		Result: archive.EndBallots && archive.EncryptedTally != nil && archive.Result != nil}
	on := make(map[string]int, len(archive.Ballots))
	for _, b := range archive.Ballots {
		on[belenios.Tracker(b)]++
	}
	receipted := make(map[string]bool, len(receipts))
	for _, t := range receipts {
		receipted[t] = true
		switch on[t] {
		case 0:
			c.Missing = append(c.Missing, t)
		case 1:
		default:
			c.Repeated = append(c.Repeated, t)
		}
	}
	for t, n := range on {
		if !receipted[t] {
			c.Extra += n
		}
	}
	c.Wrong = compareResults(ballots.Expected(receipts), res.Results)
	return c, nil
}

// compareResults lists the differences between the expected counts (per
// question, per option, "" for blank) and the runtime's results.
func compareResults(want map[string]map[string]int64, got []scrutinv1.QuestionResult) []string {
	var wrong []string
	have := map[string]map[string]int64{}
	for _, q := range got {
		m := map[string]int64{"": q.Blank}
		for _, o := range q.Options {
			m[o.ID] = o.Votes
		}
		have[q.QuestionID] = m
	}
	for q := range want {
		if have[q] == nil {
			wrong = append(wrong, q+": no result")
		}
	}
	for q, h := range have {
		for o, n := range h {
			if want[q][o] != n {
				name := o
				if o == "" {
					name = "blank"
				}
				wrong = append(wrong, fmt.Sprintf("%s/%s: %d counted, %d cast", q, name, n, want[q][o]))
			}
		}
		for o, n := range want[q] {
			if _, ok := h[o]; !ok {
				wrong = append(wrong, fmt.Sprintf("%s/%s: not in the results, %d cast", q, o, n))
			}
		}
	}
	sort.Strings(wrong)
	return wrong
}

// board downloads and reads the board.
func (r *Runtime) board(ctx context.Context) (*belenios.Archive, int64, error) {
	var (
		a   *belenios.Archive
		n   int64
		err error
	)
	err = r.readBoard(ctx, func(body io.Reader) error {
		cr := &countingReader{r: body}
		a, err = belenios.ReadArchive(cr)
		n = cr.n
		return err
	})
	return a, n, err
}

// VerifyBoard downloads the board and checks all of it with Scrutin's
// verifier (belenios.Verify: every ballot's proofs and signature, the tally,
// the partial decryptions, the result), as an auditor would.
func (r *Runtime) VerifyBoard(ctx context.Context) (*belenios.Report, error) {
	var rep *belenios.Report
	err := r.readBoard(ctx, func(body io.Reader) error {
		var err error
		rep, err = belenios.Verify(body)
		return err
	})
	return rep, err
}

// readBoard streams GET /api/v1/board.bel into read.
func (r *Runtime) readBoard(ctx context.Context, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/api/v1/board.bel", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return fmt.Errorf("board.bel: HTTP %d %s", resp.StatusCode, body)
	}
	if err := read(resp.Body); err != nil {
		return fmt.Errorf("board.bel: %w", err)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// controlRaw calls the control API with a JSON body and returns the status and
// the answer's body.
func (r *Runtime) controlRaw(ctx context.Context, method, path string, in any) (int, []byte, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.OpsURL+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.controlToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}
