package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// PutSignIn creates or replaces a voter's pending sign-in and its codes, in one
// transaction (the sign_ins row lock orders concurrent puts for one voter).
func (s *Store) PutSignIn(ctx context.Context, p store.PendingSignIn) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO sign_ins (voter_id, attempts, last_sent_at, expires_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (voter_id) DO UPDATE SET attempts = excluded.attempts,
				last_sent_at = excluded.last_sent_at, expires_at = excluded.expires_at`,
			p.VoterID, p.Attempts, p.LastSentAt, p.ExpiresAt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM sign_in_codes WHERE voter_id = $1", p.VoterID); err != nil {
			return err
		}
		for i, c := range p.Codes {
			if _, err := tx.Exec(ctx, `INSERT INTO sign_in_codes (voter_id, n, hash, expires_at)
				VALUES ($1, $2, $3, $4)`, p.VoterID, i, nonNil(c.Hash), c.ExpiresAt); err != nil {
				return err
			}
		}
		return nil
	}, "put sign-in")
}

// SignIn returns a voter's pending sign-in, its codes in the order they were put,
// or store.ErrNotFound.
func (s *Store) SignIn(ctx context.Context, voterID string) (store.PendingSignIn, error) {
	p := store.PendingSignIn{VoterID: voterID}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, "SELECT attempts, last_sent_at, expires_at FROM sign_ins WHERE voter_id = $1",
				voterID).Scan(&p.Attempts, &p.LastSentAt, &p.ExpiresAt)
			if errors.Is(err, pgx.ErrNoRows) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			rows, _ := tx.Query(ctx, "SELECT hash, expires_at FROM sign_in_codes WHERE voter_id = $1 ORDER BY n",
				voterID)
			p.Codes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PendingCode, error) {
				var c store.PendingCode
				err := r.Scan(&c.Hash, &c.ExpiresAt)
				c.ExpiresAt = c.ExpiresAt.UTC()
				return c, err
			})
			return err
		})
	if err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	p.LastSentAt, p.ExpiresAt = p.LastSentAt.UTC(), p.ExpiresAt.UTC()
	return p, nil
}

// AddSignInAttempt counts one wrong code and returns the new count, or
// store.ErrNotFound.
func (s *Store) AddSignInAttempt(ctx context.Context, voterID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "UPDATE sign_ins SET attempts = attempts + 1 WHERE voter_id = $1 RETURNING attempts",
		voterID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return n, wrap("add sign-in attempt", err)
}

// DeleteSignIn removes a voter's pending sign-in and its codes; deleting one that
// does not exist is not an error.
func (s *Store) DeleteSignIn(ctx context.Context, voterID string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM sign_ins WHERE voter_id = $1", voterID)
	return wrap("delete sign-in", err)
}

// CreateSession stores a new session; an id hash already in use is an error.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id_hash, voter_id, created_at, last_seen_at)
		VALUES ($1, $2, $3, $4)`, nonNil(ss.IDHash), ss.VoterID, ss.CreatedAt, ss.LastSeenAt)
	return wrap("create session", err)
}

// Session returns the session whose id hashes to idHash, or store.ErrNotFound.
func (s *Store) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	ss := store.Session{}
	err := s.pool.QueryRow(ctx, `SELECT id_hash, voter_id, created_at, last_seen_at FROM sessions
		WHERE id_hash = $1`, nonNil(idHash)).Scan(&ss.IDHash, &ss.VoterID, &ss.CreatedAt, &ss.LastSeenAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	ss.CreatedAt, ss.LastSeenAt = ss.CreatedAt.UTC(), ss.LastSeenAt.UTC()
	return ss, wrap("session", err)
}

// TouchSession moves the session's last activity to at, never backwards (pods may
// touch out of order), or returns store.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = greatest(last_seen_at, $2)
		WHERE id_hash = $1`, nonNil(idHash), at)
	if err == nil && tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return wrap("touch session", err)
}

// DeleteSession removes a session; deleting one that does not exist is not an
// error.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE id_hash = $1", nonNil(idHash))
	return wrap("delete session", err)
}

// DeleteSessionsBefore removes the sessions last seen before t.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE last_seen_at < $1", t)
	if err != nil {
		return 0, wrap("delete sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// ActiveSessions counts the sessions seen since t.
func (s *Store) ActiveSessions(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM sessions WHERE last_seen_at >= $1", since).Scan(&n)
	return n, wrap("count sessions", err)
}

// nonNil turns a nil slice into an empty one, which pgx sends as ” rather than
// NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
