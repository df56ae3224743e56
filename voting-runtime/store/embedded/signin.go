package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// PutSignIn creates or replaces a voter's pending sign-in and its codes, in one
// transaction.
func (s *Store) PutSignIn(ctx context.Context, p store.PendingSignIn) error {
	return s.write(ctx, "put sign-in", func(tx *sql.Tx) error { return putSignIn(ctx, tx, p) })
}

func putSignIn(ctx context.Context, tx *sql.Tx, p store.PendingSignIn) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sign_ins (voter_id, attempts, last_sent_at, expires_at)
		VALUES (?, 0, ?, ?)
		ON CONFLICT (voter_id) DO UPDATE SET last_sent_at = excluded.last_sent_at, expires_at = excluded.expires_at`,
		p.VoterID, p.LastSentAt.UnixMicro(), p.ExpiresAt.UnixMicro())
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
}

// SignIn returns a voter's pending sign-in, its codes in the order they were put,
// or store.ErrNotFound.
func (s *Store) SignIn(ctx context.Context, voterID string) (store.PendingSignIn, error) {
	tx, err := s.r.BeginTx(ctx, nil) // one snapshot for both queries
	if err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	defer tx.Rollback()
	p, err := readSignIn(ctx, tx, voterID)
	if err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	return p, nil
}

// readSignIn reads a pending sign-in in tx, or returns store.ErrNotFound.
func readSignIn(ctx context.Context, tx *sql.Tx, voterID string) (store.PendingSignIn, error) {
	p := store.PendingSignIn{VoterID: voterID}
	var sent, expires int64
	err := tx.QueryRowContext(ctx, "SELECT last_sent_at, expires_at FROM sign_ins WHERE voter_id = ?",
		voterID).Scan(&sent, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return p, store.ErrNotFound
	}
	if err != nil {
		return p, err
	}
	p.LastSentAt, p.ExpiresAt = micros(sent), micros(expires)
	rows, err := tx.QueryContext(ctx, "SELECT hash, expires_at FROM sign_in_codes WHERE voter_id = ? ORDER BY n", voterID)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var c store.PendingCode
		var exp int64
		if err := rows.Scan(&c.Hash, &exp); err != nil {
			return p, err
		}
		c.ExpiresAt = micros(exp)
		p.Codes = append(p.Codes, c)
	}
	return p, rows.Err()
}

// UpdateSignIn replaces a voter's pending sign-in with f(current), in one write
// transaction (SQLite has one writer: it never interleaves with AttemptSignIn),
// unless the voter is locked out at now.
func (s *Store) UpdateSignIn(ctx context.Context, voterID string, now time.Time, f func(cur *store.PendingSignIn) store.PendingSignIn) error {
	return s.write(ctx, "update sign-in", func(tx *sql.Tx) error {
		g, err := readGuard(ctx, tx, voterID)
		if err != nil {
			return err
		}
		if g.Locked(now) {
			return store.ErrLockedOut
		}
		cur, err := store.OrNone(readSignIn(ctx, tx, voterID))
		if err != nil {
			return err
		}
		next := f(cur)
		next.VoterID = voterID
		return putSignIn(ctx, tx, next)
	})
}

// Guard returns a voter's guard, the zero Guard when there is none.
func (s *Store) Guard(ctx context.Context, voterID string) (store.Guard, error) {
	g, err := scanGuard(voterID, s.r.QueryRowContext(ctx, selectGuard, voterID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Guard{VoterID: voterID}, nil
	}
	return g, wrap("guard", err)
}

// AttemptSignIn checks one code and records the verdict in one write transaction.
func (s *Store) AttemptSignIn(ctx context.Context, voterID string, now time.Time, policy store.LockoutPolicy,
	check func(p *store.PendingSignIn) store.Verdict, open *store.Session) (store.Attempt, error) {
	var a store.Attempt
	err := s.signIns.do(ctx, "attempt sign-in", func(tx *sql.Tx) error {
		g, err := readGuard(ctx, tx, voterID)
		if err != nil {
			return err
		}
		pending := func() (*store.PendingSignIn, error) { return store.OrNone(readSignIn(ctx, tx, voterID)) }
		var record, end bool
		if a, record, end, err = g.Attempt(now, policy, pending, check); !record || err != nil {
			return err
		}
		if end {
			if _, err := tx.ExecContext(ctx, "DELETE FROM sign_ins WHERE voter_id = ?", voterID); err != nil {
				return err
			}
		}
		if open != nil && a.Verdict == store.Right {
			if err := insertSession(ctx, tx, *open); err != nil {
				return err
			}
		}
		return writeGuard(ctx, tx, a.Guard)
	})
	return a, err
}

// ReserveCode records that a code is being sent at now, unless the voter is locked
// out or within the cooldown.
func (s *Store) ReserveCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration) (store.Guard, bool, error) {
	var g store.Guard
	var ok bool
	err := s.write(ctx, "reserve code", func(tx *sql.Tx) (err error) {
		if g, err = readGuard(ctx, tx, voterID); err != nil {
			return err
		}
		if ok = g.MaySend(now, cooldown); !ok {
			return nil
		}
		next := g
		next.LastSentAt = now
		return writeGuard(ctx, tx, next)
	})
	return g, ok, err
}

// SendCode records a code's sending, the pending sign-in and the message in one
// write transaction.
func (s *Store) SendCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration,
	update func(cur *store.PendingSignIn) store.PendingSignIn, msg store.OutboxMessage) (store.Guard, bool, int64, error) {
	if err := msg.Check(); err != nil {
		return store.Guard{}, false, 0, fmt.Errorf("embedded: send code: %w", err)
	}
	var g store.Guard
	var sent bool
	var id int64
	err := s.signIns.do(ctx, "send code", func(tx *sql.Tx) (err error) {
		if g, err = readGuard(ctx, tx, voterID); err != nil {
			return err
		}
		if sent = g.MaySend(now, cooldown); !sent {
			return nil
		}
		cur, err := store.OrNone(readSignIn(ctx, tx, voterID))
		if err != nil {
			return err
		}
		next := update(cur)
		next.VoterID = voterID
		if err := putSignIn(ctx, tx, next); err != nil {
			return err
		}
		sentAt := g
		sentAt.LastSentAt = now
		if err := writeGuard(ctx, tx, sentAt); err != nil {
			return err
		}
		ins, err := prepareEnqueue(ctx, tx)
		if err != nil {
			return err
		}
		defer ins.Close()
		id, err = enqueueOne(ctx, ins, msg, s.now().UnixMicro())
		return err
	})
	if err != nil {
		return store.Guard{}, false, 0, err
	}
	return g, sent, id, nil
}

// ReleaseCode puts the last sent time back to previous, unless another
// reservation replaced reservedAt.
func (s *Store) ReleaseCode(ctx context.Context, voterID string, reservedAt, previous time.Time) error {
	_, err := s.w.ExecContext(ctx, "UPDATE sign_in_guards SET last_sent_at = ? WHERE voter_id = ? AND last_sent_at = ?",
		nullMicros(previous), voterID, reservedAt.UnixMicro())
	return wrap("release code", err)
}

// Unlock clears a voter's lockout, failures and escalation in one write
// transaction.
func (s *Store) Unlock(ctx context.Context, voterID string) (store.Guard, error) {
	var g store.Guard
	err := s.write(ctx, "unlock", func(tx *sql.Tx) (err error) {
		if g, err = readGuard(ctx, tx, voterID); err != nil {
			return err
		}
		return writeGuard(ctx, tx, g.Unlocked())
	})
	return g, err
}

const selectGuard = `SELECT failures, lockouts, locked_until, last_failure_at, last_sent_at FROM sign_in_guards
	WHERE voter_id = ?`

// readGuard reads a voter's guard in tx, the zero Guard when there is none.
func readGuard(ctx context.Context, tx *sql.Tx, voterID string) (store.Guard, error) {
	g, err := scanGuard(voterID, tx.QueryRowContext(ctx, selectGuard, voterID))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Guard{VoterID: voterID}, nil
	}
	return g, err
}

func scanGuard(voterID string, row *sql.Row) (store.Guard, error) {
	g := store.Guard{VoterID: voterID}
	var locked, failed, sent sql.NullInt64
	if err := row.Scan(&g.Failures, &g.Lockouts, &locked, &failed, &sent); err != nil {
		return store.Guard{}, err
	}
	for _, t := range []struct {
		from sql.NullInt64
		to   *time.Time
	}{{locked, &g.LockedUntil}, {failed, &g.LastFailureAt}, {sent, &g.LastSentAt}} {
		if t.from.Valid {
			*t.to = micros(t.from.Int64)
		}
	}
	return g, nil
}

// writeGuard creates or replaces a voter's guard in tx.
func writeGuard(ctx context.Context, tx *sql.Tx, g store.Guard) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sign_in_guards (voter_id, failures, lockouts, locked_until, last_failure_at, last_sent_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (voter_id) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,
			locked_until = excluded.locked_until, last_failure_at = excluded.last_failure_at, last_sent_at = excluded.last_sent_at`,
		g.VoterID, g.Failures, g.Lockouts, nullMicros(g.LockedUntil), nullMicros(g.LastFailureAt), nullMicros(g.LastSentAt))
	return err
}

// nullMicros is nil (SQL NULL) for the zero time, microseconds since the epoch
// otherwise.
func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// DeleteSignIn removes a voter's pending sign-in and its codes; deleting one that
// does not exist is not an error.
func (s *Store) DeleteSignIn(ctx context.Context, voterID string) error {
	_, err := s.w.ExecContext(ctx, "DELETE FROM sign_ins WHERE voter_id = ?", voterID)
	return wrap("delete sign-in", err)
}

// CreateSession stores a new session; an id hash already in use is an error.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	return wrap("create session", insertSession(ctx, s.w, ss))
}

// insertSession creates the session ss with q (the writer, or a transaction).
func insertSession(ctx context.Context, q interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, ss store.Session) error {
	_, err := q.ExecContext(ctx, `INSERT INTO sessions (id_hash, voter_id, created_at, last_seen_at)
		VALUES (?, ?, ?, ?)`, nonNil(ss.IDHash), ss.VoterID, ss.CreatedAt.UnixMicro(), ss.LastSeenAt.UnixMicro())
	return err
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
