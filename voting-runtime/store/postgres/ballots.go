package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// errTrackerTaken: the ballot's tracker is already in the box (another ballot has
// the same one). Nothing is stored and the voter has not voted.
var errTrackerTaken = errors.New("postgres: cast: this tracker is already in the box")

// Cast marks voterID as having voted and stores b, in one statement (so one round
// trip and one transaction, committed with synchronous_commit = on). The
// participation primary key decides races: of concurrent Casts for one voter, from
// any number of pools, the first to insert wins; the others wait for it to commit,
// then fail with store.ErrAlreadyVoted. A voter not on the roll fails the foreign
// key: store.ErrNotFound. A tracker already in the box stores nothing at all.
//
// The same statement checks that the box is open (the recorded schedule, by the
// server's now(), and not closed) and holds the state row FOR SHARE until it
// commits: the close, which UPDATEs that row, waits for it (see schedule.go). When
// the box is shut it inserts nothing: store.ErrNotOpen or store.ErrClosed.
func (s *Store) Cast(ctx context.Context, voterID string, b store.Ballot) error {
	return s.casts.Do(&castRequest{ctx: ctx, voterID: voterID, ballot: b})
}

// castOne is Cast alone, in its own statement: the outcome of each cast a group
// could not store, with its exact reason.
func (s *Store) castOne(ctx context.Context, voterID string, b store.Ballot) error {
	tag, err := s.pool.Exec(ctx, `WITH box AS (
			SELECT 1 FROM state WHERE NOT closed AND opens_at <= now() AND now() < closes_at FOR SHARE),
		voted AS (INSERT INTO participation (voter_id) SELECT $1 FROM box RETURNING voter_id)
		INSERT INTO ballots (payload, weight, tracker) SELECT $2, $3, $4 FROM voted`,
		voterID, nonNil(b.Payload), b.Weight, b.Tracker)
	if err == nil && tag.RowsAffected() == 0 {
		return s.whyShut(ctx)
	}
	switch code, constraint := pgCode(err); {
	case code == "23505" && constraint == "participation_pkey":
		return store.ErrAlreadyVoted
	case code == "23503":
		return store.ErrNotFound
	case code == "23505" && constraint == "ballots_tracker_key":
		return errTrackerTaken
	}
	return wrap("cast", err)
}

// HasVoted reports whether voterID's ballot is in the box (false for a voter not
// on the roll).
func (s *Store) HasVoted(ctx context.Context, voterID string) (bool, error) {
	var voted bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT FROM participation WHERE voter_id = $1)", voterID).Scan(&voted)
	return voted, wrap("has voted", err)
}

// Counts are the voters on the roll and the voters who voted, from one snapshot.
func (s *Store) Counts(ctx context.Context) (voters, cast int64, err error) {
	err = s.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM roll), (SELECT count(*) FROM participation)").
		Scan(&voters, &cast)
	return voters, cast, wrap("counts", err)
}

// Ballots returns every ballot sorted by tracker (byte order).
func (s *Store) Ballots(ctx context.Context) ([]store.Ballot, error) {
	rows, _ := s.pool.Query(ctx, "SELECT payload, weight, tracker FROM ballots ORDER BY tracker")
	bs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Ballot, error) {
		var b store.Ballot
		err := r.Scan(&b.Payload, &b.Weight, &b.Tracker)
		return b, err
	})
	return bs, wrap("ballots", err)
}

// Participation returns the roll sorted by voter id (byte order) with who voted.
// Credential hashes are left out: this is an export, and needs none.
func (s *Store) Participation(ctx context.Context) ([]store.ParticipationRow, error) {
	rows, _ := s.pool.Query(ctx, `SELECT r.voter_id, r.name, r.email, r.phone, r.weight,
		coalesce(r.public_credential, ''), p.voter_id IS NOT NULL, coalesce(p.by_proxy, false)
		FROM roll r LEFT JOIN participation p USING (voter_id) ORDER BY r.voter_id`)
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ParticipationRow, error) {
		var p store.ParticipationRow
		v := &p.Voter
		err := r.Scan(&v.ID, &v.Name, &v.Email, &v.Phone, &v.Weight, &v.PublicCredential, &p.Voted, &p.ByProxy)
		return p, err
	})
	return ps, wrap("participation", err)
}

// SealBallots rewrites the box in one transaction: TRUNCATE gives the table a new
// file (the old one, in arrival order, is removed at commit) and every row gets
// this transaction's id, which matches no participation row's.
func (s *Store) SealBallots(ctx context.Context) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			"LOCK TABLE ballots IN ACCESS EXCLUSIVE MODE",
			"CREATE TEMP TABLE sealed ON COMMIT DROP AS SELECT payload, weight, tracker FROM ballots",
			"TRUNCATE ballots",
			"INSERT INTO ballots (payload, weight, tracker) SELECT payload, weight, tracker FROM sealed ORDER BY tracker",
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}, "seal ballots")
}
