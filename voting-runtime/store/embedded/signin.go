package embedded

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// PutSignIn creates or replaces a voter's pending sign-in and its codes, in one
// transaction.
func (s *Store) PutSignIn(ctx context.Context, p store.PendingSignIn) error {
	return s.write(ctx, "put sign-in", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sign_ins (voter_id, attempts, last_sent_at, expires_at)
			VALUES (?, ?, ?, ?)
			ON CONFLICT (voter_id) DO UPDATE SET attempts = excluded.attempts,
				last_sent_at = excluded.last_sent_at, expires_at = excluded.expires_at`,
			p.VoterID, p.Attempts, p.LastSentAt.UnixMicro(), p.ExpiresAt.UnixMicro())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sign_in_codes WHERE voter_id = ?", p.VoterID); err != nil {
			return err
		}
		for i, c := range p.Codes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sign_in_codes (voter_id, n, hash, expires_at)
				VALUES (?, ?, ?, ?)`, p.VoterID, i, nonNil(c.Hash), c.ExpiresAt.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	})
}

// SignIn returns a voter's pending sign-in, its codes in the order they were put,
// or store.ErrNotFound.
func (s *Store) SignIn(ctx context.Context, voterID string) (store.PendingSignIn, error) {
	p := store.PendingSignIn{VoterID: voterID}
	tx, err := s.r.BeginTx(ctx, nil) // one snapshot for both queries
	if err != nil {
		return p, wrap("sign-in", err)
	}
	defer tx.Rollback()
	var sent, expires int64
	err = tx.QueryRowContext(ctx, "SELECT attempts, last_sent_at, expires_at FROM sign_ins WHERE voter_id = ?",
		voterID).Scan(&p.Attempts, &sent, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PendingSignIn{}, store.ErrNotFound
	}
	if err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	p.LastSentAt, p.ExpiresAt = micros(sent), micros(expires)
	rows, err := tx.QueryContext(ctx, "SELECT hash, expires_at FROM sign_in_codes WHERE voter_id = ? ORDER BY n",
		voterID)
	if err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c store.PendingCode
		var exp int64
		if err := rows.Scan(&c.Hash, &exp); err != nil {
			return store.PendingSignIn{}, wrap("sign-in", err)
		}
		c.ExpiresAt = micros(exp)
		p.Codes = append(p.Codes, c)
	}
	if err := rows.Err(); err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	return p, nil
}

// AddSignInAttempt counts one wrong code and returns the new count, or
// store.ErrNotFound.
func (s *Store) AddSignInAttempt(ctx context.Context, voterID string) (int, error) {
	var n int
	err := s.write(ctx, "add sign-in attempt", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, "UPDATE sign_ins SET attempts = attempts + 1 WHERE voter_id = ? RETURNING attempts",
			voterID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
	return n, err
}

// DeleteSignIn removes a voter's pending sign-in and its codes; deleting one that
// does not exist is not an error.
func (s *Store) DeleteSignIn(ctx context.Context, voterID string) error {
	_, err := s.w.ExecContext(ctx, "DELETE FROM sign_ins WHERE voter_id = ?", voterID)
	return wrap("delete sign-in", err)
}

// CreateSession stores a new session; an id hash already in use is an error.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, voter_id, created_at, last_seen_at)
		VALUES (?, ?, ?, ?)`, nonNil(ss.IDHash), ss.VoterID, ss.CreatedAt.UnixMicro(), ss.LastSeenAt.UnixMicro())
	return wrap("create session", err)
}

// Session returns the session whose id hashes to idHash, or store.ErrNotFound.
func (s *Store) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	var ss store.Session
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT id_hash, voter_id, created_at, last_seen_at FROM sessions
		WHERE id_hash = ?`, nonNil(idHash)).Scan(&ss.IDHash, &ss.VoterID, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, wrap("session", err)
	}
	ss.CreatedAt, ss.LastSeenAt = micros(created), micros(seen)
	return ss, nil
}

// TouchSession moves the session's last activity to at, never backwards, or
// returns store.ErrNotFound.
func (s *Store) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	res, err := s.w.ExecContext(ctx, "UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id_hash = ?",
		at.UnixMicro(), nonNil(idHash))
	if err != nil {
		return wrap("touch session", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = store.ErrNotFound
		}
		return wrap("touch session", err)
	}
	return nil
}

// DeleteSession removes a session; deleting one that does not exist is not an
// error.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE id_hash = ?", nonNil(idHash))
	return wrap("delete session", err)
}

// DeleteSessionsBefore removes the sessions last seen before t.
func (s *Store) DeleteSessionsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, "DELETE FROM sessions WHERE last_seen_at < ?", t.UnixMicro())
	if err != nil {
		return 0, wrap("delete sessions", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("delete sessions", err)
}

// micros is the UTC time us microseconds after the Unix epoch.
func micros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nonNil turns a nil slice into an empty one (for NOT NULL columns).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nullable is nil (SQL NULL) for a nil slice, b otherwise.
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// ActiveSessions counts the sessions seen since t.
func (s *Store) ActiveSessions(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM sessions WHERE last_seen_at >= ?", since.UnixMicro()).Scan(&n)
	return n, wrap("count sessions", err)
}
