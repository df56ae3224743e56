package embedded

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// errTrackerTaken: the ballot's tracker is already in the box (another ballot has
// the same one). Nothing is stored and the voter has not voted.
var errTrackerTaken = errors.New("embedded: cast: this tracker is already in the box")

// Cast marks voterID as having voted and stores b under a random id, in one
// BEGIN IMMEDIATE transaction: it holds the database's write lock from the start,
// so its checks and inserts cannot interleave with another Cast, the close or a
// schedule move, in this process or another. It first checks, by the store's
// clock, that the box is open and not closed (store.ErrNotOpen, store.ErrClosed).
// The participation primary key would refuse a second ballot anyway.
func (s *Store) Cast(ctx context.Context, voterID string, b store.Ballot) error {
	id := make([]byte, 16)
	rand.Read(id) // never fails
	return s.casts.do(ctx, "cast", func(tx *sql.Tx) error {
		b0, err := readBox(ctx, tx)
		if err != nil {
			return err
		}
		if err := b0.shut(s.now().UnixMicro()); err != nil {
			return err
		}
		return castOne(ctx, tx, voterID, b, id)
	})
}

// castOne is one cast in tx, the box already found open: the checks, then the
// participation row and the ballot. Nothing is written when a check fails.
func castOne(ctx context.Context, tx *sql.Tx, voterID string, b store.Ballot, id []byte) error {
	var onRoll, voted, taken bool
	err := tx.QueryRowContext(ctx, `SELECT
			EXISTS (SELECT 1 FROM roll WHERE voter_id = ?1),
			EXISTS (SELECT 1 FROM participation WHERE voter_id = ?1),
			EXISTS (SELECT 1 FROM ballots WHERE tracker = ?2)`, voterID, b.Tracker).Scan(&onRoll, &voted, &taken)
	switch {
	case err != nil:
		return err
	case !onRoll:
		return store.ErrNotFound
	case voted:
		return store.ErrAlreadyVoted
	case taken:
		return errTrackerTaken
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO participation (voter_id) VALUES (?)", voterID); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO ballots (id, payload, weight, tracker) VALUES (?, ?, ?, ?)",
		id, nonNil(b.Payload), b.Weight, b.Tracker)
	return err
}

// HasVoted reports whether voterID's ballot is in the box (false for a voter not
// on the roll).
func (s *Store) HasVoted(ctx context.Context, voterID string) (bool, error) {
	var voted bool
	err := s.r.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM participation WHERE voter_id = ?)", voterID).
		Scan(&voted)
	return voted, wrap("has voted", err)
}

// Counts are the voters on the roll and the voters who voted, from one snapshot.
func (s *Store) Counts(ctx context.Context) (voters, cast int64, err error) {
	err = s.r.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM roll), (SELECT count(*) FROM participation)").
		Scan(&voters, &cast)
	return voters, cast, wrap("counts", err)
}

// Ballots returns every ballot sorted by tracker (byte order).
func (s *Store) Ballots(ctx context.Context) ([]store.Ballot, error) {
	var bs []store.Ballot
	err := s.query(ctx, "SELECT payload, weight, tracker FROM ballots ORDER BY tracker", nil,
		func(rows *sql.Rows) error {
			var b store.Ballot
			err := rows.Scan(&b.Payload, &b.Weight, &b.Tracker)
			bs = append(bs, b)
			return err
		})
	return bs, wrap("ballots", err)
}

// Participation returns the roll sorted by voter id (byte order) with who voted.
// Credential hashes are left out: this is an export, and needs none.
func (s *Store) Participation(ctx context.Context) ([]store.ParticipationRow, error) {
	var ps []store.ParticipationRow
	err := s.query(ctx, `SELECT r.voter_id, r.name, r.email, r.phone, r.weight, coalesce(r.public_credential, ''),
		p.voter_id IS NOT NULL, coalesce(p.by_proxy, 0) FROM roll r LEFT JOIN participation p USING (voter_id) ORDER BY r.voter_id`, nil,
		func(rows *sql.Rows) error {
			var p store.ParticipationRow
			v := &p.Voter
			err := rows.Scan(&v.ID, &v.Name, &v.Email, &v.Phone, &v.Weight, &v.PublicCredential, &p.Voted, &p.ByProxy)
			ps = append(ps, p)
			return err
		})
	return ps, wrap("participation", err)
}

// SealBallots rewrites the box in one transaction with fresh random ids, then
// checkpoints and truncates the write-ahead log and vacuums the file, so that
// neither the log nor freed pages keep the order in which ballots arrived.
func (s *Store) SealBallots(ctx context.Context) error {
	err := s.write(ctx, "seal ballots", func(tx *sql.Tx) error {
		for _, stmt := range []string{
			"CREATE TEMP TABLE sealed AS SELECT payload, weight, tracker FROM ballots",
			"DELETE FROM ballots",
			"INSERT INTO ballots (id, payload, weight, tracker) SELECT randomblob(16), payload, weight, tracker FROM sealed ORDER BY tracker",
			"DROP TABLE sealed",
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, stmt := range []string{"PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := s.w.ExecContext(ctx, stmt); err != nil {
			return wrap("seal ballots", err)
		}
	}
	return nil
}
