package store

import (
	"context"
	"errors"
	"fmt"
)

// The verifiable mode (Belenios) keeps a public board: an append-only list of
// records in arrival order, published as a Belenios archive. Its guarantees:
//   - The setup record is written once, by the first caller (InitBoard); every
//     replica reads back the same bytes.
//   - CastVerifiable is one durable transaction that, while the box is open (the
//     same rule and the same serialisation with SetClosed as Cast), appends the
//     ballot to the board, marks the voter as having voted and makes this ballot
//     the voter's counted one, superseding an earlier one: a second cast is not
//     an error, every cast is on the board in arrival order, and exactly one
//     ballot per voter is counted, whatever the concurrency and the crashes.
//   - After the close, records are appended once per key, in order, and nothing
//     follows the record keyed BoardKeyResult.

// Board record kinds. The bodies are opaque to the store.
const (
	BoardSetup             = "setup"
	BoardBallot            = "ballot"
	BoardEndBallots        = "end-ballots"
	BoardEncryptedTally    = "encrypted-tally"
	BoardPartialDecryption = "partial-decryption"
	BoardResult            = "result"
)

// BoardKeyResult is the key of the result record, after which the board takes
// nothing more.
const BoardKeyResult = "result"

var (
	// ErrNoBoard: the board's setup is not recorded yet.
	ErrNoBoard = errors.New("the board is not set up")
	// ErrBoardFinished: the result is on the board; nothing more is appended.
	ErrBoardFinished = errors.New("the board holds the result already")
	// ErrNotClosedYet: records of the close are appended only once the box is closed.
	ErrNotClosedYet = errors.New("the box is not closed yet")
	// ErrBallotOnBoard: this very ballot (its tracker) is on the board already;
	// CastVerifiable stored nothing.
	ErrBallotOnBoard = errors.New("this ballot is on the board already")
	// ErrNotVotersCredential: the ballot's credential is not the voter's public
	// credential (or the voter has none); CastVerifiable stored nothing.
	ErrNotVotersCredential = errors.New("the ballot's credential is not the voter's")
)

// BoardRecord is one record of the board.
type BoardRecord struct {
	// Seq orders the records (filled by the store, increasing).
	Seq  int64
	Kind string
	// Owner is the trustee (1-based) of a partial decryption, 0 otherwise.
	Owner int
	Body  []byte
	// Tracker is a ballot's tracker, filled by BoardIndex ("" otherwise).
	Tracker string
}

// VerifiableBallot is a ballot of the verifiable mode as the store keeps it.
type VerifiableBallot struct {
	// Body is the ballot exactly as received (canonical Belenios JSON).
	Body []byte
	// Credential is the public credential that signed it (decimal).
	Credential string
	Weight     int64
	// Tracker is the ballot's Belenios tracker (SHA256B64 of Body).
	Tracker string
}

// Board is the verifiable mode's part of the store.
type Board interface {
	// InitBoard records setup as the board's first record unless one is recorded
	// already; it returns the recorded setup (the first caller's).
	InitBoard(ctx context.Context, setup []byte) ([]byte, error)
	// BoardSetup is the recorded setup (ErrNoBoard when none).
	BoardSetup(ctx context.Context) ([]byte, error)
	// CastVerifiable appends b to the board and makes it voterID's counted ballot
	// (see the guarantees above); ErrNotOpen, ErrClosed as Cast, ErrNoBoard
	// before InitBoard, ErrNotFound for a voter not on the roll,
	// ErrNotVotersCredential when b.Credential is not the voter's public
	// credential, ErrBallotOnBoard when b's tracker is on the board already (each
	// storing nothing). It returns once the transaction is durable.
	CastVerifiable(ctx context.Context, voterID string, b VerifiableBallot) error
	// CountedBallots calls fn with each voter's counted ballot, in board order,
	// once the box is closed (ErrNotClosedYet before).
	CountedBallots(ctx context.Context, fn func(VerifiableBallot) error) error
	// AppendBoard appends recs, in order, in one transaction, once the box is
	// closed (ErrNotClosedYet before) and unless the result is on the board
	// (ErrBoardFinished); key, unique across the board, makes it idempotent: when
	// a record was appended under key, it appends nothing and returns false.
	AppendBoard(ctx context.Context, key string, recs ...BoardRecord) (bool, error)
	// BoardRecords calls fn with every record after seq after (0: all), in order.
	BoardRecords(ctx context.Context, after int64, fn func(BoardRecord) error) error
	// BoardIndex calls fn with every record after seq after (0: all), in order,
	// without its body: Seq, Kind, Owner and, for a ballot, its Tracker. It
	// reads no body, so following a large board costs little.
	BoardIndex(ctx context.Context, after int64, fn func(BoardRecord) error) error
	// VoterCredentials calls fn with every voter's public credential and weight
	// (voters without one are skipped), in voter id order.
	VoterCredentials(ctx context.Context, fn func(credential string, weight int64) error) error
}

// CheckSetup checks what InitBoard is given: a setup.
func CheckSetup(setup []byte) error {
	if len(setup) == 0 {
		return errors.New("the setup is empty")
	}
	return nil
}

// Check checks a ballot CastVerifiable is given: a body and a tracker.
func (b VerifiableBallot) Check() error {
	if b.Tracker == "" || len(b.Body) == 0 {
		return errors.New("a ballot needs a body and a tracker")
	}
	return nil
}

// CheckCloseRecords checks what AppendBoard is given: a key and at least one
// record, each of a kind that follows the close. Both stores call it first.
func CheckCloseRecords(key string, recs []BoardRecord) error {
	if key == "" || len(recs) == 0 {
		return errors.New("a key and at least one record are required")
	}
	for _, r := range recs {
		switch r.Kind {
		case BoardEndBallots, BoardEncryptedTally, BoardPartialDecryption, BoardResult:
		default:
			return fmt.Errorf("a record of kind %q is not appended after the close", r.Kind)
		}
	}
	return nil
}
