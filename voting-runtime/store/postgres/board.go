package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The board of the verifiable mode (store.Board). Every append takes the next
// seq by updating the board_head row and keeps its lock until commit, so records
// commit in seq order (see migrations/0005_board.sql). A cast also holds the
// state row FOR SHARE, as Cast does, before it takes board_head: the close
// waits for casts in flight and a cast after the close finds the box closed;
// the close's records read the closed flag, which never goes back, then take
// board_head. The board is public and in arrival order by design; nothing of it
// is sealed.

// InitBoard records setup as the board's first record (seq 1) unless a setup is
// recorded already, and returns the recorded one. Of concurrent callers, from
// any process, the first to insert board_head wins; the others wait for its
// commit and read its setup.
func (s *Store) InitBoard(ctx context.Context, setup []byte) ([]byte, error) {
	if err := store.CheckSetup(setup); err != nil {
		return nil, fmt.Errorf("postgres: init board: %w", err)
	}
	var got []byte
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "INSERT INTO board_head (seq) VALUES (1) ON CONFLICT (id) DO NOTHING")
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			if _, err := tx.Exec(ctx, "INSERT INTO board (seq, kind, body) VALUES (1, $1, $2)",
				store.BoardSetup, setup); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, "SELECT body FROM board WHERE seq = 1").Scan(&got)
	}, "init board")
	return got, err
}

// BoardSetup is the recorded setup (store.ErrNoBoard when none).
func (s *Store) BoardSetup(ctx context.Context) ([]byte, error) {
	var got []byte
	err := s.pool.QueryRow(ctx, "SELECT body FROM board WHERE seq = 1").Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNoBoard
	}
	return got, wrap("board setup", err)
}

// CastVerifiable appends b to the board, marks voterID as having voted and
// makes b the voter's counted ballot, in one statement (one round trip, one
// transaction committed with synchronous_commit = on). It locks the state row
// FOR SHARE while the box is open (as Cast: the close waits for it), then
// board_head: concurrent casts, by one voter or many, commit one after the
// other in seq order, and the counted row of a voter is always that of their
// latest cast. When nothing is inserted, castRefused says why.
func (s *Store) CastVerifiable(ctx context.Context, voterID string, b store.VerifiableBallot) error {
	if err := b.Check(); err != nil {
		return fmt.Errorf("postgres: cast verifiable: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `WITH box AS (
			SELECT 1 FROM state WHERE NOT closed AND opens_at <= now() AND now() < closes_at FOR SHARE),
		voter AS (SELECT 1 FROM roll WHERE voter_id = $1 AND public_credential = $3),
		head AS (UPDATE board_head SET seq = seq + 1 FROM box, voter RETURNING board_head.seq),
		rec AS (INSERT INTO board (seq, kind, body, tracker) SELECT seq, 'ballot', $2, $5 FROM head RETURNING seq),
		voted AS (INSERT INTO participation (voter_id) SELECT $1 FROM rec ON CONFLICT DO NOTHING)
		INSERT INTO counted_ballots (voter_id, seq, credential, weight) SELECT $1, seq, $3, $4 FROM rec
		ON CONFLICT (voter_id) DO UPDATE SET seq = excluded.seq, credential = excluded.credential,
			weight = excluded.weight WHERE excluded.seq > counted_ballots.seq`,
		voterID, b.Body, b.Credential, b.Weight, b.Tracker)
	if err == nil && tag.RowsAffected() == 0 {
		return s.castRefused(ctx, voterID, b.Credential)
	}
	switch code, constraint := pgCode(err); {
	case code == "23505" && constraint == "board_tracker_key":
		return store.ErrBallotOnBoard
	case code == "23503":
		return store.ErrNotFound
	}
	return wrap("cast verifiable", err)
}

// castRefused says why a verifiable cast inserted nothing.
func (s *Store) castRefused(ctx context.Context, voterID, credential string) error {
	var setUp, closed, early, late, onRoll, voters bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM board_head), closed,
			opens_at IS NULL OR closes_at IS NULL OR now() < opens_at, coalesce(now() >= closes_at, false),
			EXISTS (SELECT FROM roll WHERE voter_id = $1),
			EXISTS (SELECT FROM roll WHERE voter_id = $1 AND public_credential = $2)
		FROM state`, voterID, credential).Scan(&setUp, &closed, &early, &late, &onRoll, &voters)
	switch {
	case err != nil:
		return wrap("cast verifiable", err)
	case closed, late:
		return store.ErrClosed
	case early:
		return store.ErrNotOpen
	case !setUp:
		return store.ErrNoBoard
	case !onRoll:
		return store.ErrNotFound
	case !voters:
		return store.ErrNotVotersCredential
	}
	return store.ErrClosed // the box was shut when the cast ran
}

// CountedBallots calls fn with each voter's counted ballot in board order, once
// the close is recorded (after which no cast commits).
func (s *Store) CountedBallots(ctx context.Context, fn func(store.VerifiableBallot) error) error {
	var closed bool
	if err := s.pool.QueryRow(ctx, "SELECT closed FROM state").Scan(&closed); err != nil {
		return wrap("counted ballots", err)
	}
	if !closed {
		return store.ErrNotClosedYet
	}
	return s.stream(ctx, "counted ballots", `SELECT b.body, c.credential, c.weight, b.tracker
		FROM counted_ballots c JOIN board b USING (seq) ORDER BY c.seq`, nil,
		func(rows pgx.Rows) error {
			var v store.VerifiableBallot
			if err := rows.Scan(&v.Body, &v.Credential, &v.Weight, &v.Tracker); err != nil {
				return err
			}
			return fn(v)
		})
}

// AppendBoard appends recs under key in one transaction holding board_head,
// once the close is recorded and unless the result is on the board. Concurrent
// appends under one key, from any process, wait for each other: the first
// appends, the others find its key.
func (s *Store) AppendBoard(ctx context.Context, key string, recs ...store.BoardRecord) (bool, error) {
	if err := store.CheckCloseRecords(key, recs); err != nil {
		return false, fmt.Errorf("postgres: append board: %w", err)
	}
	appended := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var closed bool
		if err := tx.QueryRow(ctx, "SELECT closed FROM state").Scan(&closed); err != nil {
			return err
		}
		if !closed {
			return store.ErrNotClosedYet
		}
		var head int64
		err := tx.QueryRow(ctx, "SELECT seq FROM board_head FOR UPDATE").Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNoBoard
		}
		if err != nil {
			return err
		}
		var done, finished bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM board WHERE close_key = $1),
				EXISTS (SELECT FROM board WHERE close_key = $2)`, key, store.BoardKeyResult).
			Scan(&done, &finished); err != nil {
			return err
		}
		switch {
		case done:
			return nil
		case finished:
			return store.ErrBoardFinished
		}
		for i, r := range recs {
			var k *string
			if i == 0 {
				k = &key
			}
			if _, err := tx.Exec(ctx, "INSERT INTO board (seq, kind, owner, body, close_key) VALUES ($1, $2, $3, $4, $5)",
				head+int64(i)+1, r.Kind, r.Owner, nonNil(r.Body), k); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE board_head SET seq = $1", head+int64(len(recs))); err != nil {
			return err
		}
		appended = true
		return nil
	}, "append board")
	return appended && err == nil, err
}

// BoardRecords calls fn with every record after seq after, in seq order, from
// one snapshot.
func (s *Store) BoardRecords(ctx context.Context, after int64, fn func(store.BoardRecord) error) error {
	return s.stream(ctx, "board records", "SELECT seq, kind, owner, body FROM board WHERE seq > $1 ORDER BY seq",
		[]any{after}, func(rows pgx.Rows) error {
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
	return s.stream(ctx, "board index", "SELECT seq, kind, owner, COALESCE(tracker, '') FROM board WHERE seq > $1 ORDER BY seq",
		[]any{after}, func(rows pgx.Rows) error {
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
		WHERE public_credential IS NOT NULL ORDER BY voter_id`, nil, func(rows pgx.Rows) error {
		var c string
		var w int64
		if err := rows.Scan(&c, &w); err != nil {
			return err
		}
		return fn(c, w)
	})
}

// stream runs a query and calls scan for each row as it arrives; an error from
// scan (the caller's function) is returned as it is.
func (s *Store) stream(ctx context.Context, op, q string, args []any, scan func(pgx.Rows) error) error {
	rows, err := s.pool.Query(ctx, q, args...)
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
