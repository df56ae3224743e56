package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/tally"
)

// The verifiable mode (spec.verifiability.mode: Belenios). Voters' devices
// encrypt their ballots and sign them with their Belenios credential; the
// runtime checks every proof, keeps the ballots exactly as received on a public
// board (a Belenios archive anyone can download and check with belenios-tool),
// tallies them homomorphically at the close, and decrypts the tally with the
// trustees' partial decryptions: the platform's own, when it is a trustee, and
// those external trustees upload. Nothing the runtime keeps or logs tells how
// anyone voted: it never sees a plaintext choice.

// Errors of the verifiable mode.
var (
	// ErrEncryptedOnly: plain answers were sent to a verifiable election.
	ErrEncryptedOnly = errors.New("this election takes encrypted ballots only: vote with a Belenios client such as `kubectl scrutin vote`")
	// ErrNotVerifiable: an encrypted ballot, or a trustee's upload, was sent to
	// an election that is not verifiable.
	ErrNotVerifiable = errors.New("this election is not verifiable: it takes no encrypted ballot")
	// ErrBoardNotReady: the board is set up at the opening.
	ErrBoardNotReady = errors.New("the election record and its board are published at the opening")
	// ErrTallyNotReady: partial decryptions are taken once the tally is on the board.
	ErrTallyNotReady = errors.New("the encrypted tally is not on the board yet: it is computed at the close")
	// ErrDecryptionRecorded: this trustee's partial decryption is on the board already.
	ErrDecryptionRecorded = errors.New("this trustee's partial decryption is on the board already")
	// ErrUnknownTrustee: no trustee has that number.
	ErrUnknownTrustee = errors.New("no trustee of this election has that number")
	// ErrBallotOnBoard: this very ballot is on the board already (a ballot is
	// cast once; a new vote is a new ballot).
	ErrBallotOnBoard = errors.New("this ballot is on the board already: to vote again, make a new ballot")
	// ErrCredentialFixed: a Belenios credential cannot be re-issued.
	ErrCredentialFixed = errors.New("a Belenios credential cannot be re-issued: its public part is on the board")
)

// InvalidDecryptionError: a partial decryption that does not check.
type InvalidDecryptionError struct{ Err error }

func (e *InvalidDecryptionError) Error() string {
	return "the partial decryption does not check: " + e.Err.Error()
}

// errAwaitingTrustees: not enough partial decryptions on the board yet.
var errAwaitingTrustees = errors.New("awaiting the trustees' partial decryptions")

// Verifiable is the engine's configuration for the verifiable mode.
type Verifiable struct {
	// TrusteeKey is the platform trustee's private key (nil when the platform
	// holds no key).
	TrusteeKey *big.Int
	// UUID and Pubcreds are the election's uuid and its public credentials
	// (Belenios .pubcreds lines "credential,weight,voter_id") with an External
	// credential authority.
	UUID     string
	Pubcreds []byte
}

// Verifiable reports whether the election runs in the verifiable mode.
func (en *Engine) Verifiable() bool { return IsVerifiable(en.e) }

// PublicURL is where voters reach the election (Config.PublicURL, the URL their
// letters give), or "" when the runtime was given none.
func (en *Engine) PublicURL() string { return en.publicURL }

// IsVerifiable reports whether e runs in the verifiable mode.
func IsVerifiable(e *scrutinv1.Election) bool { return e.Spec.IsVerifiable() }

// PlatformTrustee reports whether the platform holds a share of e's decryption
// key: when spec.verifiability.trustees.platform says so, and by default when
// no external trustee is listed.
func PlatformTrustee(e *scrutinv1.Election) bool {
	return e.Spec.IsVerifiable() && e.Spec.Verifiability.PlatformTrustee()
}

// externalCredentials reports whether the tenant gives the public credentials.
func (en *Engine) externalCredentials() bool { return en.e.Spec.ExternalCredentials() }

// platformCredentials reports whether the runtime makes the voters' Belenios
// credentials (and sends them in their letters).
func (en *Engine) platformCredentials() bool { return en.Verifiable() && !en.externalCredentials() }

// group is the election's group (BELENIOS-2048, the only one).
func (en *Engine) group() (*belenios.Group, error) {
	name := en.e.Spec.Verifiability.Group
	if name == "" {
		name = "BELENIOS-2048"
	}
	return belenios.GroupByName(string(name))
}

// boardState is the board's setup as recorded, parsed: it never changes.
type boardState struct {
	Timestamp   int64  `json:"timestamp"`
	Election    []byte `json:"election"`
	Trustees    []byte `json:"trustees"`
	Credentials []byte `json:"credentials"`

	rec      *belenios.ElectionRecord
	trustees belenios.Trustees
	// weights of the public credentials (decimal), as on the board
	weights map[string]int64
}

// verifiableState is what the engine keeps of the verifiable mode.
type verifiableState struct {
	cfg   Verifiable
	mu    sync.Mutex
	board *boardState
	// tallySeq is the board's seq before its encrypted tally's (0: not seen yet):
	// the records of the close are read from there, not from the first ballot.
	tallySeq int64
	// live is the board's trackers, for its page.
	live liveBoard
}

// beleniosUUID is the election's uuid: the tenant's with External credentials,
// otherwise made once and kept in the store (every replica reads the same).
func (en *Engine) beleniosUUID(ctx context.Context) (string, error) {
	if en.externalCredentials() {
		if en.vf.cfg.UUID == "" {
			return "", errors.New("an External credential authority needs the election's uuid (--credentials-dir)")
		}
		return en.vf.cfg.UUID, nil
	}
	u, err := en.st.Keys(ctx, "belenios-uuid", func() ([]byte, error) {
		u, err := belenios.NewUUID()
		return []byte(u), err
	})
	return string(u), err
}

// trusteesJSON is the trustees list: the platform's Single first when it is a
// trustee, then the external Singles in the spec's order, then the Pedersen
// group.
func (en *Engine) trusteesJSON(g *belenios.Group) ([]byte, error) {
	var entries []string
	if PlatformTrustee(en.e) {
		x := en.vf.cfg.TrusteeKey
		if x == nil {
			return nil, errors.New("the platform is a trustee and its key (belenios-trustee-key) is missing")
		}
		pub, err := belenios.TrusteeKeyOf(g, x)
		if err != nil {
			return nil, err
		}
		raw, err := belenios.Marshal(pub)
		if err != nil {
			return nil, err
		}
		entries = append(entries, `["Single",`+string(raw)+`]`)
	}
	if t := en.e.Spec.Verifiability.Trustees; t != nil {
		for _, ext := range t.External {
			entries = append(entries, `["Single",`+strings.TrimSpace(ext.PublicKey)+`]`)
		}
		if t.Threshold != nil {
			entries = append(entries, strings.TrimSpace(t.Threshold.Trustees))
		}
	}
	if len(entries) == 0 {
		return nil, errors.New("the election has no trustee")
	}
	ts, err := belenios.ParseTrustees([]byte("[" + strings.Join(entries, ",") + "]"))
	if err != nil {
		return nil, fmt.Errorf("spec.verifiability.trustees: %w", err)
	}
	if err := ts.Verify(g); err != nil {
		return nil, fmt.Errorf("spec.verifiability.trustees: %w", err)
	}
	return ts.Marshal()
}

// makeSetup builds the board's setup: the election record (its public key the
// trustees'), the trustees and the voters' public credentials as the store
// holds them.
func (en *Engine) makeSetup(ctx context.Context) ([]byte, error) {
	if d, err := en.st.RollDigest(ctx); err != nil {
		return nil, errorf("reading the roll digest", err)
	} else if d == "" {
		return nil, errors.New("the board is set up once the roll is imported")
	}
	g, err := en.group()
	if err != nil {
		return nil, err
	}
	uuid, err := en.beleniosUUID(ctx)
	if err != nil {
		return nil, err
	}
	trustees, err := en.trusteesJSON(g)
	if err != nil {
		return nil, err
	}
	ts, err := belenios.ParseTrustees(trustees)
	if err != nil {
		return nil, err
	}
	qs, err := belenios.QuestionsOf(en.e.Spec.Questions)
	if err != nil {
		return nil, err
	}
	election, err := belenios.NewElectionRecord(uuid, en.e.Spec.Title, en.e.Spec.Organization, qs, ts.PublicKey(g))
	if err != nil {
		return nil, err
	}
	var pcs []belenios.PublicCredential
	err = en.st.VoterCredentials(ctx, func(credential string, weight int64) error {
		c, ok := new(big.Int).SetString(credential, 10)
		if !ok {
			return fmt.Errorf("a voter's public credential is not a number")
		}
		pcs = append(pcs, belenios.PublicCredential{Credential: c, Weight: weight})
		return nil
	})
	if err != nil {
		return nil, errorf("reading the public credentials", err)
	}
	credentials, err := belenios.MarshalPublicCredentials(pcs)
	if err != nil {
		return nil, err
	}
	return json.Marshal(boardState{Timestamp: en.now().Unix(), Election: election, Trustees: trustees, Credentials: credentials})
}

// parseSetup reads a recorded setup.
func parseSetup(raw []byte) (*boardState, error) {
	var s boardState
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("the board's setup cannot be read: %w", err)
	}
	rec, err := belenios.ParseElection(s.Election)
	if err != nil {
		return nil, fmt.Errorf("the board's election record: %w", err)
	}
	ts, err := belenios.ParseTrustees(s.Trustees)
	if err != nil {
		return nil, fmt.Errorf("the board's trustees: %w", err)
	}
	var creds []string
	if err := json.Unmarshal(s.Credentials, &creds); err != nil {
		return nil, fmt.Errorf("the board's public credentials: %w", err)
	}
	s.weights = make(map[string]int64, len(creds))
	for _, c := range creds {
		cred, w, found := strings.Cut(c, ",")
		weight := int64(1)
		if found {
			if weight, err = strconv.ParseInt(w, 10, 64); err != nil {
				return nil, fmt.Errorf("the board's public credentials: weight %q", w)
			}
		}
		s.weights[cred] = weight
	}
	s.rec, s.trustees = rec, ts
	return &s, nil
}

// boardSetup is the board's setup, read once. When none is recorded and create
// is true, it makes one and records it unless another replica recorded its own
// first (the first one stays: every replica then reads it).
func (en *Engine) boardSetup(ctx context.Context, create bool) (*boardState, error) {
	if !en.Verifiable() {
		return nil, ErrNotVerifiable
	}
	en.vf.mu.Lock()
	defer en.vf.mu.Unlock()
	if en.vf.board != nil {
		return en.vf.board, nil
	}
	raw, err := en.st.BoardSetup(ctx)
	if errors.Is(err, store.ErrNoBoard) {
		if !create {
			return nil, ErrBoardNotReady
		}
		setup, err := en.makeSetup(ctx)
		if err != nil {
			return nil, errorf("setting up the board", err)
		}
		if raw, err = en.st.InitBoard(ctx, setup); err != nil {
			return nil, errorf("recording the board's setup", err)
		}
		if bytes.Equal(raw, setup) {
			en.log.Info("The board is set up")
		}
	} else if err != nil {
		return nil, errorf("reading the board's setup", err)
	}
	s, err := parseSetup(raw)
	if err != nil {
		return nil, err
	}
	en.vf.board = s
	return s, nil
}

// board is the board's setup, made at the opening: before it (by the store's
// schedule), ErrBoardNotReady.
func (en *Engine) board(ctx context.Context) (*boardState, error) {
	return en.boardSetup(ctx, en.Phase() != NotYetOpen)
}

// ElectionJSON is the election record, exactly as published: voters' ballots
// carry its fingerprint.
func (en *Engine) ElectionJSON(ctx context.Context) ([]byte, error) {
	s, err := en.board(ctx)
	if err != nil {
		return nil, err
	}
	return s.rec.Raw, nil
}

// BoardName is the board's file name, <uuid>.bel.
func (en *Engine) BoardName(ctx context.Context) (string, error) {
	s, err := en.board(ctx)
	if err != nil {
		return "", err
	}
	return s.rec.Election.UUID + ".bel", nil
}

// tallyRecord is the body of the board's encrypted-tally record.
type tallyRecord struct {
	Tally       []byte `json:"tally"` // the encrypted_tally data record
	NumTallied  int    `json:"numTallied"`
	TotalWeight int64  `json:"totalWeight"`
}

// WriteBoard writes the board as a Belenios archive, regenerated from the
// store's records: the same records give the same bytes.
func (en *Engine) WriteBoard(ctx context.Context, w io.Writer) error {
	s, err := en.board(ctx)
	if err != nil {
		return err
	}
	a, err := belenios.NewArchiveWriter(w, s.Timestamp)
	if err != nil {
		return err
	}
	if err := a.Setup(s.Election, s.Trustees, s.Credentials); err != nil {
		return err
	}
	return en.st.BoardRecords(ctx, 0, func(r store.BoardRecord) error {
		switch r.Kind {
		case store.BoardSetup:
			return nil
		case store.BoardBallot:
			return a.Ballot(r.Body)
		case store.BoardEndBallots:
			return a.EndBallots()
		case store.BoardEncryptedTally:
			var t tallyRecord
			if err := json.Unmarshal(r.Body, &t); err != nil {
				return err
			}
			return a.EncryptedTally(t.Tally, belenios.SizedEncryptedTally{NumTallied: t.NumTallied, TotalWeight: t.TotalWeight})
		case store.BoardPartialDecryption:
			return a.PartialDecryption(r.Owner, r.Body)
		case store.BoardResult:
			return a.Result(r.Body)
		}
		return fmt.Errorf("the board holds a record of unknown kind %q", r.Kind)
	})
}

// CastEncrypted checks a voter's encrypted ballot and puts it on the board,
// making it the voter's counted one (a later one replaces it; both stay on the
// board). The ballot must be canonical, for this election, signed with the
// voter's own credential, and every proof must check; a refused ballot is a
// *belenios.BallotError naming why, and nothing is stored. It returns the
// ballot's tracker once the cast is committed.
func (en *Engine) CastEncrypted(ctx context.Context, voterID string, raw []byte) (string, error) {
	if !en.Verifiable() {
		return "", ErrNotVerifiable
	}
	if en.state(ctx, false).Closed {
		en.metrics.rejected("closed")
		return "", ErrVoteClosed
	}
	if ok, wait := en.encryptedCasts.Allow(voterID, en.now()); !ok {
		en.metrics.limited.Inc()
		return "", &RateLimitedError{RetryAfter: wait, Ballots: true}
	}
	s, err := en.board(ctx)
	if errors.Is(err, ErrBoardNotReady) {
		en.metrics.rejected("not-open")
		return "", &NotOpenYetError{OpensAt: en.Schedule().OpensAt}
	}
	if err != nil {
		return "", err
	}
	b, err := s.rec.VerifyBallot(raw)
	if err != nil {
		var be *belenios.BallotError
		if errors.As(err, &be) {
			en.metrics.rejected("invalid-ballot")
			return "", be
		}
		return "", err
	}
	v, err := en.voter(ctx, voterID)
	if err != nil {
		return "", errorf("reading the voter", err)
	}
	cred := b.Credential.Big().String()
	weight, listed := s.weights[cred]
	if !listed || v.PublicCredential != cred {
		en.metrics.rejected("invalid-ballot")
		return "", &belenios.BallotError{Reason: "unknown-credential",
			Message: "the ballot is not signed with your own credential, the one in your letter"}
	}
	tracker := belenios.Tracker(raw)
	err = en.st.CastVerifiable(ctx, voterID, store.VerifiableBallot{Body: raw, Credential: cred, Weight: weight, Tracker: tracker})
	if shut := en.boxShut(err); shut != nil {
		return "", shut
	}
	switch {
	case errors.Is(err, store.ErrNotVotersCredential):
		en.metrics.rejected("invalid-ballot")
		return "", &belenios.BallotError{Reason: "unknown-credential",
			Message: "the ballot is not signed with your own credential, the one in your letter"}
	case errors.Is(err, store.ErrBallotOnBoard):
		en.metrics.rejected("on-board")
		return "", ErrBallotOnBoard
	case err != nil:
		return "", errorf("casting the ballot", err)
	}
	en.voterCache.freeze() // a ballot is in the box: the roll is fixed
	en.metrics.cast()
	return tracker, nil
}

// closeVerifiable is the close of the verifiable mode, once the box is
// closed: the end of the ballots on the board, the homomorphic tally of the
// counted ballots (each voter's last), the platform trustee's partial
// decryption, and the result once enough trustees have decrypted. Each step is
// appended once, whichever replica gets there first; it may be run again after
// a crash. It returns nil once the platform has done its part, whether the
// result awaits external trustees or not.
func (en *Engine) closeVerifiable(ctx context.Context, changed bool, state store.State) error {
	s, err := en.boardSetup(ctx, true)
	if err != nil {
		return err
	}
	if !changed {
		// Closed before (another replica, an earlier call): the controller calls
		// again until the result is in, which may wait days for the trustees;
		// once the platform's part is on the board, only the result is looked for.
		c, err := en.readClose(ctx)
		if err != nil {
			return err
		}
		if c.tally != nil && (!PlatformTrustee(en.e) || c.pds[1] != nil) {
			if err := en.tryResult(ctx, s); err != nil && !errors.Is(err, errAwaitingTrustees) {
				return err
			}
			return nil
		}
	}
	if _, err := en.st.AppendBoard(ctx, store.BoardEndBallots, store.BoardRecord{Kind: store.BoardEndBallots}); err != nil && !errors.Is(err, store.ErrBoardFinished) {
		return errorf("ending the ballots on the board", err)
	}
	// The counted ballots are read in batches, each multiplied in on every core:
	// memory stays bounded by a batch whatever the number of ballots.
	const batch = 2048
	t := belenios.NewTally(s.rec)
	var trackers []string
	bs, ws := make([]*belenios.Ballot, 0, batch), make([]int64, 0, batch)
	err = en.st.CountedBallots(ctx, func(vb store.VerifiableBallot) error {
		b, err := belenios.ParseBallot(vb.Body)
		if err != nil {
			return fmt.Errorf("a counted ballot cannot be read: %w", err)
		}
		bs, ws = append(bs, b), append(ws, vb.Weight)
		if len(bs) == batch {
			t.AddAll(bs, ws)
			bs, ws = bs[:0], ws[:0]
		}
		trackers = append(trackers, vb.Tracker)
		return nil
	})
	if err != nil {
		return errorf("tallying the ballots", err)
	}
	t.AddAll(bs, ws)
	if changed {
		sort.Strings(trackers)
		records := make([]store.AuditRecord, 0, len(trackers)+1)
		for _, tr := range trackers {
			records = append(records, store.AuditRecord{Kind: "ballot", Data: []byte(tr)})
		}
		records = append(records, store.AuditRecord{Kind: "closed", Data: jsonData(map[string]any{
			"closesAt": en.scheduleOf(state).ClosesAt.UTC().Format(time.RFC3339), "ballots": len(trackers),
		})})
		if _, err := en.st.AppendAudit(ctx, records...); err != nil {
			return errorf("auditing the close", err)
		}
	}
	et := t.Encrypted()
	etRaw, err := belenios.Marshal(et)
	if err != nil {
		return err
	}
	body, err := json.Marshal(tallyRecord{Tally: etRaw, NumTallied: t.Count(), TotalWeight: t.TotalWeight()})
	if err != nil {
		return err
	}
	if _, err := en.st.AppendBoard(ctx, store.BoardEncryptedTally, store.BoardRecord{Kind: store.BoardEncryptedTally, Body: body}); err != nil && !errors.Is(err, store.ErrBoardFinished) {
		return errorf("recording the encrypted tally", err)
	}
	if PlatformTrustee(en.e) {
		// the platform's Single is the first trustee
		pd, err := belenios.PartialDecrypt(s.rec, en.vf.cfg.TrusteeKey, et)
		if err != nil {
			return errorf("decrypting the tally", err)
		}
		raw, err := belenios.Marshal(pd)
		if err != nil {
			return err
		}
		if _, err := en.st.AppendBoard(ctx, decryptionKey(1), store.BoardRecord{Kind: store.BoardPartialDecryption, Owner: 1, Body: raw}); err != nil && !errors.Is(err, store.ErrBoardFinished) {
			return errorf("recording the platform's partial decryption", err)
		}
	}
	if err := en.tryResult(ctx, s); err != nil && !errors.Is(err, errAwaitingTrustees) {
		return err
	}
	return nil
}

// decryptionKey is the board key of trustee owner's partial decryption.
func decryptionKey(owner int) string { return "partial-decryption-" + strconv.Itoa(owner) }

// closeRecords are the board's records of the close, as recorded.
type closeRecords struct {
	tally  *tallyRecord
	et     belenios.EncryptedTally
	pds    map[int]*belenios.PartialDecryption
	result []byte
}

// readClose reads the records of the close from the board.
func (en *Engine) readClose(ctx context.Context) (*closeRecords, error) {
	en.vf.mu.Lock()
	after := en.vf.tallySeq
	en.vf.mu.Unlock()
	c := &closeRecords{pds: map[int]*belenios.PartialDecryption{}}
	var prev int64
	err := en.st.BoardRecords(ctx, after, func(r store.BoardRecord) error {
		defer func() { prev = r.Seq }()
		switch r.Kind {
		case store.BoardEncryptedTally:
			var t tallyRecord
			if err := json.Unmarshal(r.Body, &t); err != nil {
				return err
			}
			if err := belenios.UnmarshalStrict(t.Tally, &c.et); err != nil {
				return err
			}
			c.tally = &t
			en.vf.mu.Lock()
			en.vf.tallySeq = prev
			en.vf.mu.Unlock()
		case store.BoardPartialDecryption:
			var pd belenios.PartialDecryption
			if err := belenios.UnmarshalStrict(r.Body, &pd); err != nil {
				return err
			}
			c.pds[r.Owner] = &pd
		case store.BoardResult:
			c.result = r.Body
		}
		return nil
	})
	if err != nil {
		return nil, errorf("reading the board", err)
	}
	return c, nil
}

// tryResult decrypts the tally once enough trustees' partial decryptions are
// on the board, puts the result on it, and records the results in today's
// shape (errAwaitingTrustees until then).
func (en *Engine) tryResult(ctx context.Context, s *boardState) error {
	c, err := en.readClose(ctx)
	if err != nil {
		return err
	}
	if c.tally == nil {
		return ErrTallyNotReady
	}
	if c.result == nil {
		owners := make([]int, 0, len(c.pds))
		for o := range c.pds {
			owners = append(owners, o)
		}
		slices.Sort(owners)
		if !s.trustees.Ready(owners) {
			return errAwaitingTrustees
		}
		factors, err := s.trustees.Combine(s.rec.Group, c.pds)
		if err != nil {
			return errorf("combining the partial decryptions", err)
		}
		res, err := belenios.DecodeResult(s.rec, c.et, factors, c.tally.TotalWeight)
		if err != nil {
			return errorf("decrypting the result", err)
		}
		raw, err := belenios.Marshal(res)
		if err != nil {
			return err
		}
		added, err := en.st.AppendBoard(ctx, store.BoardKeyResult, store.BoardRecord{Kind: store.BoardResult, Body: raw})
		if err != nil && !errors.Is(err, store.ErrBoardFinished) {
			return errorf("recording the result", err)
		}
		if added {
			c.result = raw
		} else if c, err = en.readClose(ctx); err != nil {
			return err
		} else if c.result == nil {
			return errors.New("the result's record is missing from the board")
		}
	}
	var res belenios.Result
	if err := belenios.UnmarshalStrict(c.result, &res); err != nil {
		return fmt.Errorf("the board's result cannot be read: %w", err)
	}
	results, err := en.resultsOf(res)
	if err != nil {
		return err
	}
	return en.recordResults(ctx, results)
}

// resultsOf turns a decrypted Belenios result (per question, per slot, the
// blank slot first where allowed) into the Election's results.
func (en *Engine) resultsOf(res belenios.Result) ([]scrutinv1.QuestionResult, error) {
	qs := en.e.Spec.Questions
	if len(res.Result) != len(qs) {
		return nil, fmt.Errorf("the result has %d questions, the election %d", len(res.Result), len(qs))
	}
	out := make([]scrutinv1.QuestionResult, len(qs))
	for i := range qs {
		q := &qs[i]
		slots := res.Result[i]
		var blank int64
		if q.AllowBlank {
			if len(slots) == 0 {
				return nil, fmt.Errorf("question %s: no blank slot in the result", q.ID)
			}
			blank, slots = slots[0], slots[1:]
		}
		if len(slots) != len(q.Options) {
			return nil, fmt.Errorf("question %s: %d counts for %d options", q.ID, len(slots), len(q.Options))
		}
		out[i] = tally.FromCounts(q, slices.Clone(slots), blank)
	}
	return out, nil
}

// SubmitPartialDecryption takes an external trustee's partial decryption of
// the tally: the proofs are its authentication, checked against that trustee's
// verification key. It is recorded once per trustee, then the result is
// decrypted as soon as enough trustees have.
func (en *Engine) SubmitPartialDecryption(ctx context.Context, owner int, raw []byte) error {
	if !en.Verifiable() {
		return ErrNotVerifiable
	}
	s, err := en.boardSetup(ctx, false)
	if err != nil {
		return err
	}
	if owner < 1 || owner > s.trustees.Owners() {
		return ErrUnknownTrustee
	}
	c, err := en.readClose(ctx)
	if err != nil {
		return err
	}
	if c.tally == nil {
		return ErrTallyNotReady
	}
	if c.pds[owner] != nil || c.result != nil {
		return ErrDecryptionRecorded
	}
	var pd belenios.PartialDecryption
	if err := belenios.UnmarshalStrict(bytes.TrimSpace(raw), &pd); err != nil {
		return &InvalidDecryptionError{Err: err}
	}
	X, err := s.trustees.VerificationKey(owner)
	if err != nil {
		return ErrUnknownTrustee
	}
	if err := belenios.VerifyPartialDecryption(s.rec, X, c.et, &pd); err != nil {
		return &InvalidDecryptionError{Err: err}
	}
	body, err := belenios.Marshal(&pd)
	if err != nil {
		return err
	}
	added, err := en.st.AppendBoard(ctx, decryptionKey(owner), store.BoardRecord{Kind: store.BoardPartialDecryption, Owner: owner, Body: body})
	if errors.Is(err, store.ErrBoardFinished) || (err == nil && !added) {
		return ErrDecryptionRecorded
	}
	if err != nil {
		return errorf("recording the partial decryption", err)
	}
	if _, err := en.st.AppendAudit(ctx, store.AuditRecord{Kind: "partial-decryption", Data: jsonData(map[string]any{"trustee": owner})}); err != nil {
		return errorf("auditing the partial decryption", err)
	}
	en.log.Info("A trustee's partial decryption is on the board", "trustee", owner)
	if err := en.tryResult(ctx, s); err != nil && !errors.Is(err, errAwaitingTrustees) {
		return err
	}
	return nil
}

// countedTrackers are the trackers of the counted ballots, sorted.
func (en *Engine) countedTrackers(ctx context.Context) ([]string, error) {
	var trackers []string
	err := en.st.CountedBallots(ctx, func(vb store.VerifiableBallot) error {
		trackers = append(trackers, vb.Tracker)
		return nil
	})
	sort.Strings(trackers)
	return trackers, err
}
