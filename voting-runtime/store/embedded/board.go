package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The board of the verifiable mode (store.Board). Every write is a BEGIN
// IMMEDIATE transaction on the one writer connection: a cast, the close and the
// close's records run one after the other, in this process or another, and a
// record's seq (the next rowid) is its commit order. The board is public and in
// arrival order by design; nothing of it is sealed.

// InitBoard records setup as the board's first record (seq 1) unless a setup is
// recorded already, and returns the recorded one.
func (s *Store) InitBoard(ctx context.Context, setup []byte) ([]byte, error) {
	if err := store.CheckSetup(setup); err != nil {
		return nil, fmt.Errorf("embedded: init board: %w", err)
	}
	var got []byte
	err := s.write(ctx, "init board", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO board (seq, kind, body) VALUES (1, ?, ?)
			ON CONFLICT (seq) DO NOTHING`, store.BoardSetup, setup); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT body FROM board WHERE seq = 1").Scan(&got)
	})
	return got, err
}

// BoardSetup is the recorded setup (store.ErrNoBoard when none).
func (s *Store) BoardSetup(ctx context.Context) ([]byte, error) {
	var got []byte
	err := s.r.QueryRowContext(ctx, "SELECT body FROM board WHERE seq = 1").Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNoBoard
	}
	return got, wrap("board setup", err)
}

// CastVerifiable appends b to the board, marks voterID as having voted and
// makes b the voter's counted ballot, in one BEGIN IMMEDIATE transaction that
// first checks, as Cast does, that the box is open by the store's clock.
func (s *Store) CastVerifiable(ctx context.Context, voterID string, b store.VerifiableBallot) error {
	if err := b.Check(); err != nil {
		return fmt.Errorf("embedded: cast verifiable: %w", err)
	}
	return s.write(ctx, "cast verifiable", func(tx *sql.Tx) error {
		b0, err := readBox(ctx, tx)
		if err != nil {
			return err
		}
		if err := b0.shut(s.now().UnixMicro()); err != nil {
			return err
		}
		var setUp, onRoll, taken bool
		var cred sql.NullString
		err = tx.QueryRowContext(ctx, `SELECT
				EXISTS (SELECT 1 FROM board WHERE seq = 1),
				EXISTS (SELECT 1 FROM roll WHERE voter_id = ?1),
				(SELECT public_credential FROM roll WHERE voter_id = ?1),
				EXISTS (SELECT 1 FROM board WHERE tracker = ?2)`, voterID, b.Tracker).
			Scan(&setUp, &onRoll, &cred, &taken)
		switch {
		case err != nil:
			return err
		case !setUp:
			return store.ErrNoBoard
		case !onRoll:
			return store.ErrNotFound
		case !cred.Valid || cred.String != b.Credential:
			return store.ErrNotVotersCredential
		case taken:
			return store.ErrBallotOnBoard
		}
		res, err := tx.ExecContext(ctx, "INSERT INTO board (kind, body, tracker) VALUES (?, ?, ?)",
			store.BoardBallot, b.Body, b.Tracker)
		if err != nil {
			return err
		}
		seq, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO participation (voter_id) VALUES (?) ON CONFLICT DO NOTHING",
			voterID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO counted_ballots (voter_id, seq, credential, weight) VALUES (?, ?, ?, ?)
			ON CONFLICT (voter_id) DO UPDATE SET seq = excluded.seq, credential = excluded.credential,
				weight = excluded.weight WHERE excluded.seq > counted_ballots.seq`,
			voterID, seq, b.Credential, b.Weight)
		return err
	})
}

// CountedBallots calls fn with each voter's counted ballot in board order, once
// the close is recorded (after which no cast commits).
func (s *Store) CountedBallots(ctx context.Context, fn func(store.VerifiableBallot) error) error {
	var closed bool
	if err := s.r.QueryRowContext(ctx, "SELECT closed FROM state").Scan(&closed); err != nil {
		return wrap("counted ballots", err)
	}
	if !closed {
		return store.ErrNotClosedYet
	}
	return s.stream(ctx, "counted ballots", `SELECT b.body, c.credential, c.weight, b.tracker
		FROM counted_ballots c JOIN board b USING (seq) ORDER BY c.seq`, nil,
		func(rows *sql.Rows) error {
			var v store.VerifiableBallot
			if err := rows.Scan(&v.Body, &v.Credential, &v.Weight, &v.Tracker); err != nil {
				return err
			}
			return fn(v)
		})
}

// AppendBoard appends recs under key in one BEGIN IMMEDIATE transaction, once
// the close is recorded and unless the result is on the board.
func (s *Store) AppendBoard(ctx context.Context, key string, recs ...store.BoardRecord) (bool, error) {
	if err := store.CheckCloseRecords(key, recs); err != nil {
		return false, fmt.Errorf("embedded: append board: %w", err)
	}
	appended := false
	err := s.write(ctx, "append board", func(tx *sql.Tx) error {
		var closed, setUp, done, finished bool
		err := tx.QueryRowContext(ctx, `SELECT (SELECT closed FROM state),
				EXISTS (SELECT 1 FROM board WHERE seq = 1),
				EXISTS (SELECT 1 FROM board WHERE close_key = ?1),
				EXISTS (SELECT 1 FROM board WHERE close_key = ?2)`, key, store.BoardKeyResult).
			Scan(&closed, &setUp, &done, &finished)
		switch {
		case err != nil:
			return err
		case !closed:
			return store.ErrNotClosedYet
		case !setUp:
			return store.ErrNoBoard
		case done:
			return nil
		case finished:
			return store.ErrBoardFinished
		}
		for i, r := range recs {
			var k any
			if i == 0 {
				k = key
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO board (kind, owner, body, close_key) VALUES (?, ?, ?, ?)",
				r.Kind, r.Owner, nonNil(r.Body), k); err != nil {
				return err
			}
		}
		appended = true
		return nil
	})
	return appended && err == nil, err
}

// BoardRecords calls fn with every record after seq after, in seq order.
func (s *Store) BoardRecords(ctx context.Context, after int64, fn func(store.BoardRecord) error) error {
	return s.stream(ctx, "board records", "SELECT seq, kind, owner, body FROM board WHERE seq > ? ORDER BY seq",
		[]any{after}, func(rows *sql.Rows) error {
			var r store.BoardRecord
			if err := rows.Scan(&r.Seq, &r.Kind, &r.Owner, &r.Body); err != nil {
				return err
			}
			return fn(r)
		})
}

// BoardIndex calls fn with every record after seq after, in seq order, without
// its body; a ballot's tracker comes from its own column.
func (s *Store) BoardIndex(ctx context.Context, after int64, fn func(store.BoardRecord) error) error {
	return s.stream(ctx, "board index", "SELECT seq, kind, owner, COALESCE(tracker, '') FROM board WHERE seq > ? ORDER BY seq",
		[]any{after}, func(rows *sql.Rows) error {
			var r store.BoardRecord
			if err := rows.Scan(&r.Seq, &r.Kind, &r.Owner, &r.Tracker); err != nil {
				return err
			}
			return fn(r)
		})
}

// VoterCredentials calls fn with every voter's public credential and weight, in
// voter id order.
func (s *Store) VoterCredentials(ctx context.Context, fn func(credential string, weight int64) error) error {
	return s.stream(ctx, "voter credentials", `SELECT public_credential, weight FROM roll
		WHERE public_credential IS NOT NULL ORDER BY voter_id`, nil, func(rows *sql.Rows) error {
		var c string
		var w int64
		if err := rows.Scan(&c, &w); err != nil {
			return err
		}
		return fn(c, w)
	})
}

// stream runs a read-only query and calls scan for each row; an error from
// scan (the caller's function) is returned as it is.
func (s *Store) stream(ctx context.Context, op, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return wrap(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return wrap(op, rows.Err())
}
