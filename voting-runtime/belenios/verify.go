package belenios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Verify is Scrutin's own verifier of a board: it reads the archive as a stream
// (twice when r is an io.ReadSeeker, such as a file: see run) and checks
// everything belenios-tool 2.0's `election verify` checks, with this package's
// code:
//   - the archive itself (ArchiveReader: the records, their hashes, the chain);
//   - the election record, the trustees (every proof of knowledge, the Pedersen
//     certificates and commitments) and that the election's public key is
//     their product; the public credentials (group elements, no duplicate);
//   - every ballot: canonical, for this election (uuid and fingerprint), signed
//     by a credential of the list, every proof; no ballot twice; several ballots
//     under one credential are allowed and only the last one counts;
//   - the encrypted tally, recomputed from the counted ballots and their weights;
//   - each partial decryption: its owner exists, its proof checks against the
//     owner's verification key and the recomputed tally;
//   - the result: enough trustees decrypted, and it is what the recomputed tally
//     and the combined decryption factors give.
//
// It is stricter than belenios-tool 2.0 in four ways, each a defect of a board
// that Scrutin never writes: the published encrypted tally and its sized record
// must equal the recomputation (belenios-tool does not read them); the same
// ballot may not appear twice (a replay, which belenios-tool 2.0 lets pass and
// Belenios's server refuses); each partial decryption is checked even before
// the result is published; and a trustee may not have two partial decryptions
// on the board.
//
// Ballots are checked in parallel, on runtime.GOMAXPROCS(0) goroutines. The
// error, when there is one, is a *VerifyError listing every problem found; the
// Report is returned in both cases, with what was read.
func Verify(r io.Reader) (*Report, error) {
	v := &verifier{report: &Report{}, workers: runtime.GOMAXPROCS(0)}
	err := v.run(r)
	if err == nil && len(v.problems) > 0 {
		err = &VerifyError{Problems: v.problems}
	}
	return v.report, err
}

// Report is what Verify read and checked.
type Report struct {
	UUID        string
	Fingerprint string
	// Timestamp is the archive's, Unix seconds.
	Timestamp int64
	// Head is the hex hash of the last event, Height its height.
	Head   string
	Height int
	// Trustees is the number of owners (a Pedersen member counts one).
	Trustees int
	// Credentials is the number of public credentials, CredentialWeight their
	// total weight.
	Credentials      int
	CredentialWeight int64
	// Ballots is every ballot on the board; Counted the last ballot of each
	// credential, CountedWeight their total weight.
	Ballots       int
	Counted       int
	CountedWeight int64
	// Closed: the board holds EndBallots.
	Closed bool
	// Tallied: the encrypted tally is on the board (and equals the recomputed one).
	Tallied bool
	// PartialDecryptions are the owners whose partial decryptions were checked.
	PartialDecryptions []int
	// Result is the checked result, nil when the board holds none.
	Result *Result
	// Notes say what could not be checked yet (a board still open, no result).
	Notes []string
}

// VerifyError lists the problems Verify found, in board order.
type VerifyError struct {
	Problems []string
}

func (e *VerifyError) Error() string {
	const shown = 5
	msg := "belenios: the board does not verify: " + strings.Join(e.Problems[:min(shown, len(e.Problems))], "; ")
	if n := len(e.Problems) - shown; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// maxProblems bounds the problems kept (a board of bad ballots is not kept whole
// in memory twice).
const maxProblems = 1000

type verifier struct {
	report   *Report
	workers  int
	problems []string

	// keep: ballots' ciphertexts are kept for the tally (one pass); false when
	// the input can be read again.
	keep bool

	election *ElectionRecord
	trustees Trustees
	weights  map[string]int64 // public credential (decimal) -> weight
}

func (v *verifier) problem(format string, args ...any) {
	if len(v.problems) < maxProblems {
		v.problems = append(v.problems, fmt.Sprintf(format, args...))
	}
}

// counted is the last ballot seen under one credential: its position on the
// board, its tracker, and its ciphertexts (the proofs are not kept) unless the
// input can be read twice (then the tally reads them again: see run).
type counted struct {
	index   int
	tracker string
	ballot  *Ballot
}

// ballotJob is one ballot to check, ballotDone its outcome.
type ballotJob struct {
	index  int
	height int
	raw    []byte
}

type ballotDone struct {
	ballotJob
	tracker string
	ballot  *Ballot
	weight  int64
	err     error
}

func (v *verifier) run(r io.Reader) error {
	// A seekable input (a file) is read twice, so that memory does not grow
	// with the ballots: the first pass checks everything and notes each
	// credential's last ballot, the second reads those ballots again for the
	// tally. Any other input is read once, keeping the counted ciphertexts.
	seeker, _ := r.(io.ReadSeeker)
	var start int64
	if seeker != nil {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	v.keep = seeker == nil
	ar, err := NewArchiveReader(r)
	if err != nil {
		return err
	}
	v.report.Timestamp = ar.Timestamp()
	// The setup.
	step, err := ar.Next()
	if err == io.EOF {
		return &ArchiveError{Offset: 0, Msg: "the archive has no event"}
	}
	if err != nil {
		return err
	}
	if err := v.setup(step); err != nil {
		return err
	}
	if len(v.problems) > 0 {
		return nil // nothing after a bad setup can be checked
	}

	// The ballots, checked by the workers while the reader goes on.
	jobs := make(chan ballotJob, 2*v.workers)
	done := make(chan ballotDone, 2*v.workers)
	var wg sync.WaitGroup
	for range v.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				done <- v.checkBallot(j)
			}
		}()
	}
	collected := make(chan struct{})
	last := map[string]counted{}
	var ballotErrs []ballotDone
	go func() {
		defer close(collected)
		seen := map[string]int{}
		for d := range done {
			if d.err != nil {
				ballotErrs = append(ballotErrs, d)
				continue
			}
			if other, dup := seen[d.tracker]; dup {
				d.err = fmt.Errorf("the same ballot as ballot %d (duplicate ballot)", other+1)
				ballotErrs = append(ballotErrs, d)
				continue
			}
			seen[d.tracker] = d.index
			key := d.ballot.Credential.Big().Text(10)
			if c, ok := last[key]; !ok || c.index < d.index {
				last[key] = counted{index: d.index, tracker: d.tracker, ballot: d.ballot}
			}
		}
	}()

	var rest []*Step
	index := 0
	var readErr error
	for {
		step, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		if step.Event.Type != EventBallot {
			rest = append(rest, step)
			continue
		}
		if len(rest) > 0 {
			// The reader refuses a ballot after EndBallots; this is not reached.
			readErr = errors.New("belenios: a ballot after the close")
			break
		}
		jobs <- ballotJob{index: index, height: step.Event.Height, raw: step.Data[0]}
		index++
	}
	close(jobs)
	wg.Wait()
	close(done)
	<-collected
	v.report.Head, v.report.Height = ar.Head()
	v.report.Ballots = index
	if readErr != nil {
		return readErr
	}
	slices.SortFunc(ballotErrs, func(a, b ballotDone) int { return a.index - b.index })
	for _, d := range ballotErrs {
		v.problem("ballot %d (height %d, tracker %s): %v", d.index+1, d.height, SHA256B64(d.raw), d.err)
	}

	// The tally of the counted ballots, in board order.
	order := make([]counted, 0, len(last))
	for _, c := range last {
		order = append(order, c)
	}
	slices.SortFunc(order, func(a, b counted) int { return a.index - b.index })
	tally := NewTally(v.election)
	if v.keep {
		bs, ws := make([]*Ballot, len(order)), make([]int64, len(order))
		for i, c := range order {
			bs[i], ws[i] = c.ballot, v.weights[c.ballot.Credential.Big().Text(10)]
		}
		tally.AddAll(bs, ws)
	} else {
		if _, err := seeker.Seek(start, io.SeekStart); err != nil {
			return err
		}
		if err := v.tallyAgain(seeker, order, tally); err != nil {
			return err
		}
	}
	v.report.Counted, v.report.CountedWeight = tally.Count(), tally.TotalWeight()

	return v.close(rest, tally)
}

// setup checks the election, the trustees and the public credentials.
func (v *verifier) setup(step *Step) error {
	if step.Event.Type != EventSetup {
		return &ArchiveError{Msg: "the first event is not Setup"}
	}
	e, err := ParseElection(step.Data[0])
	if err != nil {
		v.problem("election: %v", err)
		return nil
	}
	v.election = e
	v.report.UUID, v.report.Fingerprint = e.Election.UUID, e.Fingerprint
	g := e.Group

	t, err := ParseTrustees(step.Data[1])
	if err != nil {
		v.problem("trustees: %v", err)
		return nil
	}
	v.trustees = t
	v.report.Trustees = t.Owners()
	if err := t.Verify(g); err != nil {
		v.problem("trustees: %v", err)
	} else if y := t.PublicKey(g); y == nil || y.Cmp(e.PublicKey) != 0 {
		v.problem("the election's public key is not the product of the trustees' keys")
	}

	pcs, err := ParsePublicCredentials(g, step.Data[2])
	if err != nil {
		v.problem("public credentials: %v", err)
		return nil
	}
	v.weights = make(map[string]int64, len(pcs))
	for _, pc := range pcs {
		v.weights[pc.Credential.Text(10)] = pc.Weight
		v.report.CredentialWeight += pc.Weight
	}
	v.report.Credentials = len(pcs)
	return nil
}

// checkBallot is one worker's check of one ballot.
func (v *verifier) checkBallot(j ballotJob) ballotDone {
	d := ballotDone{ballotJob: j, tracker: Tracker(j.raw)}
	b, err := v.election.VerifyBallot(j.raw)
	if err != nil {
		d.err = err
		return d
	}
	w, ok := v.weights[b.Credential.Big().Text(10)]
	if !ok {
		d.err = &BallotError{Reason: "unknown-credential", Message: "the ballot's credential is not in the public credentials"}
		return d
	}
	// Keep the credential, and the ciphertexts when the tally needs them.
	kept := &Ballot{Credential: b.Credential}
	if v.keep {
		kept.Answers = make([]Answer, len(b.Answers))
		for i, a := range b.Answers {
			kept.Answers[i] = Answer{Choices: a.Choices}
		}
	}
	d.ballot, d.weight = kept, w
	return d
}

// tallyAgain reads the archive again from r and adds the counted ballots
// (order: their positions and trackers, from the first pass) to tally: they
// are parsed on every core (ParseBallot: their proofs were checked in the
// first pass) and added by one goroutine. The input must not have changed: each
// counted ballot's tracker is compared with the first pass's.
func (v *verifier) tallyAgain(r io.Reader, order []counted, tally *Tally) error {
	ar, err := NewArchiveReader(r)
	if err != nil {
		return err
	}
	type job struct {
		raw     []byte
		tracker string
	}
	jobs := make(chan job, 2*v.workers)
	parsed := make(chan *Ballot, 2*v.workers)
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		failure error
	)
	fail := func(err error) { errOnce.Do(func() { failure = err }) }
	for range v.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if Tracker(j.raw) != j.tracker {
					fail(errors.New("belenios: the board changed while it was read"))
					continue
				}
				b, err := ParseBallot(j.raw)
				if err != nil {
					fail(err)
					continue
				}
				parsed <- b
			}
		}()
	}
	added := make(chan struct{})
	go func() {
		defer close(added)
		for b := range parsed {
			tally.Add(b, v.weights[b.Credential.Big().Text(10)])
		}
	}()
	index, next := 0, 0
	var readErr error
	for next < len(order) {
		step, err := ar.Next()
		if err != nil {
			readErr = fmt.Errorf("belenios: reading the board again: %w", err)
			break
		}
		if step.Event.Type != EventBallot {
			continue
		}
		if index == order[next].index {
			jobs <- job{raw: step.Data[0], tracker: order[next].tracker}
			next++
		}
		index++
	}
	close(jobs)
	wg.Wait()
	close(parsed)
	<-added
	if readErr != nil {
		return readErr
	}
	return failure
}

// close checks what follows the ballots: EndBallots, the encrypted tally, the
// partial decryptions and the result.
func (v *verifier) close(rest []*Step, tally *Tally) error {
	et := tally.Encrypted()
	pds := map[int]*PartialDecryption{}
	var result *Step
	for _, s := range rest {
		switch s.Event.Type {
		case EventEndBallots:
			v.report.Closed = true
		case EventEncryptedTally:
			v.checkPublishedTally(s, et, tally)
		case EventPartialDecryption:
			v.checkPartialDecryption(s, et, pds)
		case EventResult:
			result = s
		}
	}
	switch {
	case !v.report.Closed:
		v.report.Notes = append(v.report.Notes, "the box is open: no tally or result to check")
		return nil
	case result == nil:
		v.report.Notes = append(v.report.Notes, "no result to check")
		return nil
	}
	var published Result
	if err := UnmarshalStrict(result.Data[0], &published); err != nil {
		v.problem("result: %v", err)
		return nil
	}
	owners := make([]int, 0, len(pds))
	for o := range pds {
		owners = append(owners, o)
	}
	if !v.trustees.Ready(owners) {
		v.problem("result: the board lacks partial decryptions of enough trustees")
		return nil
	}
	factors, err := v.trustees.Combine(v.election.Group, pds)
	if err != nil {
		v.problem("result: %v", err)
		return nil
	}
	want, err := DecodeResult(v.election, et, factors, tally.TotalWeight())
	if err != nil {
		v.problem("result: %v", err)
		return nil
	}
	if !sameResult(&published, want) {
		v.problem("the result is not the decryption of the tally")
		return nil
	}
	v.report.Result = &published
	return nil
}

func (v *verifier) checkPublishedTally(s *Step, et EncryptedTally, tally *Tally) {
	v.report.Tallied = true
	raw, err := Marshal(et)
	if err != nil {
		v.problem("encrypted tally: %v", err)
		return
	}
	if !bytes.Equal(raw, s.Data[0]) {
		v.problem("the published encrypted tally is not the tally of the counted ballots")
		v.report.Tallied = false
	}
	if s.Sized.NumTallied != tally.Count() || s.Sized.TotalWeight != tally.TotalWeight() {
		v.problem("the published tally counts %d ballots of weight %d, the board %d of weight %d",
			s.Sized.NumTallied, s.Sized.TotalWeight, tally.Count(), tally.TotalWeight())
		v.report.Tallied = false
	}
}

func (v *verifier) checkPartialDecryption(s *Step, et EncryptedTally, pds map[int]*PartialDecryption) {
	owner := s.Owner
	if pds[owner] != nil {
		v.problem("trustee %d: a second partial decryption", owner)
		return
	}
	X, err := v.trustees.VerificationKey(owner)
	if err != nil {
		v.problem("partial decryption of trustee %d: %v", owner, err)
		return
	}
	var pd PartialDecryption
	if err := UnmarshalStrict(s.Data[0], &pd); err != nil {
		v.problem("partial decryption of trustee %d: %v", owner, err)
		return
	}
	if err := VerifyPartialDecryption(v.election, X, et, &pd); err != nil {
		v.problem("partial decryption of trustee %d: %v", owner, err)
		return
	}
	pds[owner] = &pd
	v.report.PartialDecryptions = append(v.report.PartialDecryptions, owner)
}

func sameResult(a, b *Result) bool {
	if len(a.Result) != len(b.Result) {
		return false
	}
	for q := range a.Result {
		if len(a.Result[q]) != len(b.Result[q]) {
			return false
		}
		for s := range a.Result[q] {
			if a.Result[q][s] != b.Result[q][s] {
				return false
			}
		}
	}
	return true
}
