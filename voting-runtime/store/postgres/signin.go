package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// PutSignIn creates or replaces a voter's pending sign-in and its codes, in one
// transaction (the sign_ins row lock orders concurrent puts for one voter).
func (s *Store) PutSignIn(ctx context.Context, p store.PendingSignIn) error {
	return s.inTx(ctx, func(tx pgx.Tx) error { return putSignIn(ctx, tx, p) }, "put sign-in")
}

func putSignIn(ctx context.Context, tx pgx.Tx, p store.PendingSignIn) error {
	// one round trip for the row and its codes
	b := &pgx.Batch{}
	queuePutSignIn(b, p)
	return tx.SendBatch(ctx, b).Close()
}

// queuePutSignIn queues in b the statements that put p.
func queuePutSignIn(b *pgx.Batch, p store.PendingSignIn) {
	b.Queue(`INSERT INTO sign_ins (voter_id, attempts, last_sent_at, expires_at)
		VALUES ($1, 0, $2, $3)
		ON CONFLICT (voter_id) DO UPDATE SET last_sent_at = excluded.last_sent_at, expires_at = excluded.expires_at`,
		p.VoterID, p.LastSentAt, p.ExpiresAt)
	b.Queue("DELETE FROM sign_in_codes WHERE voter_id = $1", p.VoterID)
	for i, c := range p.Codes {
		b.Queue(`INSERT INTO sign_in_codes (voter_id, n, hash, expires_at)
			VALUES ($1, $2, $3, $4)`, p.VoterID, i, nonNil(c.Hash), c.ExpiresAt)
	}
}

// SendCode records a code's sending, the pending sign-in and the message in one
// transaction: its start, the guard locked with the pending sign-in read under
// it, the writes and the message's id, the commit.
func (s *Store) SendCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration,
	update func(cur *store.PendingSignIn) store.PendingSignIn, msg store.OutboxMessage) (store.Guard, bool, int64, error) {
	if err := msg.Check(); err != nil {
		return store.Guard{}, false, 0, fmt.Errorf("postgres: send code: %w", err)
	}
	var g store.Guard
	var cur *store.PendingSignIn
	var sent bool
	var id int64
	// Two round trips: the transaction's start with the guard locked and the
	// pending sign-in read under it; the writes with the commit.
	reads, scan := guardAndSignInReads(voterID, &g, &cur)
	err := s.inTwoTrips(ctx, "send code", reads, scan, func() (*pgx.Batch, func(pgx.BatchResults) error, error) {
		if sent = g.MaySend(now, cooldown); !sent {
			return nil, nil, nil
		}
		next := update(cur)
		next.VoterID = voterID
		b := &pgx.Batch{}
		queuePutSignIn(b, next)
		b.Queue("UPDATE sign_in_guards SET last_sent_at = $2 WHERE voter_id = $1", voterID, now)
		b.Queue(`INSERT INTO outbox (voter_id, kind, channel, sealed, not_after) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			msg.VoterID, msg.Kind, msg.Channel, msg.Sealed, msg.NotAfter)
		return b, func(br pgx.BatchResults) error {
			for range b.Len() - 2 { // the writes before the message, then its id; COMMIT is read by sendBatch
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return br.QueryRow().Scan(&id)
		}, nil
	})
	if err != nil {
		return store.Guard{}, false, 0, err
	}
	return g, sent, id, nil
}

// SignIn returns a voter's pending sign-in, its codes in the order they were put,
// or store.ErrNotFound.
func (s *Store) SignIn(ctx context.Context, voterID string) (store.PendingSignIn, error) {
	var p store.PendingSignIn
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) (err error) {
			p, err = readSignIn(ctx, tx, voterID)
			return err
		})
	if err != nil {
		return store.PendingSignIn{}, wrap("sign-in", err)
	}
	return p, nil
}

// readSignIn reads a pending sign-in in tx, or returns store.ErrNotFound.
func readSignIn(ctx context.Context, tx pgx.Tx, voterID string) (store.PendingSignIn, error) {
	p := store.PendingSignIn{VoterID: voterID}
	err := tx.QueryRow(ctx, "SELECT last_sent_at, expires_at FROM sign_ins WHERE voter_id = $1",
		voterID).Scan(&p.LastSentAt, &p.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, store.ErrNotFound
	}
	if err != nil {
		return p, err
	}
	rows, _ := tx.Query(ctx, "SELECT hash, expires_at FROM sign_in_codes WHERE voter_id = $1 ORDER BY n", voterID)
	p.Codes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PendingCode, error) {
		var c store.PendingCode
		err := r.Scan(&c.Hash, &c.ExpiresAt)
		c.ExpiresAt = c.ExpiresAt.UTC()
		return c, err
	})
	p.LastSentAt, p.ExpiresAt = p.LastSentAt.UTC(), p.ExpiresAt.UTC()
	return p, err
}

// lockGuardReadSignIn locks a voter's guard row (creating it) and reads their
// pending sign-in under it (nil when there is none), in one round trip.
func lockGuardReadSignIn(ctx context.Context, tx pgx.Tx, voterID string) (store.Guard, *store.PendingSignIn, error) {
	var g store.Guard
	var cur *store.PendingSignIn
	b, scan := guardAndSignInReads(voterID, &g, &cur)
	err := sendBatch(ctx, tx, b, scan)
	return g, cur, err
}

// guardAndSignInReads are the statements that lock a voter's guard row (creating
// it) and read their pending sign-in under it, and the scan that reads their
// results into g and cur (nil when there is none).
func guardAndSignInReads(voterID string, g *store.Guard, cur **store.PendingSignIn) (*pgx.Batch, func(pgx.BatchResults) error) {
	b := &pgx.Batch{}
	b.Queue(lockGuardSQL, voterID)
	b.Queue("SELECT last_sent_at, expires_at FROM sign_ins WHERE voter_id = $1", voterID)
	b.Queue("SELECT hash, expires_at FROM sign_in_codes WHERE voter_id = $1 ORDER BY n", voterID)
	return b, func(br pgx.BatchResults) error {
		var err error
		if *g, err = scanGuard(voterID, br.QueryRow()); err != nil {
			return err
		}
		p := store.PendingSignIn{VoterID: voterID}
		err = br.QueryRow().Scan(&p.LastSentAt, &p.ExpiresAt)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, _ := br.Query()
		codes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.PendingCode, error) {
			var c store.PendingCode
			err := r.Scan(&c.Hash, &c.ExpiresAt)
			c.ExpiresAt = c.ExpiresAt.UTC()
			return c, err
		})
		if err != nil {
			return err
		}
		*cur = nil
		if found {
			p.Codes = codes
			p.LastSentAt, p.ExpiresAt = p.LastSentAt.UTC(), p.ExpiresAt.UTC()
			*cur = &p
		}
		return nil
	}
}

// UpdateSignIn replaces a voter's pending sign-in with f(current), holding the
// voter's guard row, unless the voter is locked out at now.
func (s *Store) UpdateSignIn(ctx context.Context, voterID string, now time.Time, f func(cur *store.PendingSignIn) store.PendingSignIn) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		g, cur, err := lockGuardReadSignIn(ctx, tx, voterID)
		if err != nil {
			return err
		}
		if g.Locked(now) {
			return store.ErrLockedOut
		}
		next := f(cur)
		next.VoterID = voterID
		return putSignIn(ctx, tx, next)
	}, "update sign-in")
}

// Guard returns a voter's guard, the zero Guard when there is none.
func (s *Store) Guard(ctx context.Context, voterID string) (store.Guard, error) {
	g, err := scanGuard(voterID, s.pool.QueryRow(ctx, selectGuard+" WHERE voter_id = $1", voterID))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Guard{VoterID: voterID}, nil
	}
	return g, wrap("guard", err)
}

// AttemptSignIn checks one code holding the voter's guard row, and records the
// verdict in the same transaction.
func (s *Store) AttemptSignIn(ctx context.Context, voterID string, now time.Time, policy store.LockoutPolicy,
	check func(p *store.PendingSignIn) store.Verdict, open *store.Session) (store.Attempt, error) {
	var a store.Attempt
	var g store.Guard
	var cur *store.PendingSignIn
	// Two round trips: the transaction's start with the guard locked and the
	// pending sign-in read under it; the writes with the commit.
	reads, scan := guardAndSignInReads(voterID, &g, &cur)
	err := s.inTwoTrips(ctx, "attempt sign-in", reads, scan, func() (*pgx.Batch, func(pgx.BatchResults) error, error) {
		pending := func() (*store.PendingSignIn, error) { return cur, nil }
		var record, end bool
		var err error
		if a, record, end, err = g.Attempt(now, policy, pending, check); !record || err != nil {
			return nil, nil, err
		}
		b := &pgx.Batch{}
		if end {
			b.Queue("DELETE FROM sign_ins WHERE voter_id = $1", voterID)
		}
		if open != nil && a.Verdict == store.Right {
			b.Queue(insertSessionSQL, sessionArgs(*open)...)
		}
		queueWriteGuard(b, a.Guard)
		return b, nil, nil
	})
	return a, err
}

// ReserveCode records that a code is being sent at now, unless the voter is locked
// out or within the cooldown.
func (s *Store) ReserveCode(ctx context.Context, voterID string, now time.Time, cooldown time.Duration) (store.Guard, bool, error) {
	var g store.Guard
	var ok bool
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		if g, err = lockGuard(ctx, tx, voterID); err != nil {
			return err
		}
		if ok = g.MaySend(now, cooldown); !ok {
			return nil
		}
		_, err = tx.Exec(ctx, "UPDATE sign_in_guards SET last_sent_at = $2 WHERE voter_id = $1", voterID, now)
		return err
	}, "reserve code")
	return g, ok, err
}

// ReleaseCode puts the last sent time back to previous, unless another
// reservation replaced reservedAt.
func (s *Store) ReleaseCode(ctx context.Context, voterID string, reservedAt, previous time.Time) error {
	_, err := s.pool.Exec(ctx, "UPDATE sign_in_guards SET last_sent_at = $3 WHERE voter_id = $1 AND last_sent_at = $2",
		voterID, reservedAt, nullTime(previous))
	return wrap("release code", err)
}

// Unlock clears a voter's lockout, failures and escalation, holding their guard
// row.
func (s *Store) Unlock(ctx context.Context, voterID string) (store.Guard, error) {
	var g store.Guard
	err := s.inTx(ctx, func(tx pgx.Tx) (err error) {
		if g, err = lockGuard(ctx, tx, voterID); err != nil {
			return err
		}
		return writeGuard(ctx, tx, g.Unlocked())
	}, "unlock")
	return g, err
}

const selectGuard = "SELECT failures, lockouts, locked_until, last_failure_at, last_sent_at FROM sign_in_guards"

// lockGuardSQL reads a voter's guard row, creating it, and locks it until the
// transaction ends: one statement (the conflict's update takes the row's lock and
// returns its latest committed values, as SELECT … FOR UPDATE does).
const lockGuardSQL = `INSERT INTO sign_in_guards AS g (voter_id) VALUES ($1)
	ON CONFLICT (voter_id) DO UPDATE SET voter_id = g.voter_id
	RETURNING failures, lockouts, locked_until, last_failure_at, last_sent_at`

// lockGuard reads a voter's guard row, creating it, and locks it until tx ends.
func lockGuard(ctx context.Context, tx pgx.Tx, voterID string) (store.Guard, error) {
	return scanGuard(voterID, tx.QueryRow(ctx, lockGuardSQL, voterID))
}

func scanGuard(voterID string, row pgx.Row) (store.Guard, error) {
	g := store.Guard{VoterID: voterID}
	var locked, failed, sent *time.Time
	if err := row.Scan(&g.Failures, &g.Lockouts, &locked, &failed, &sent); err != nil {
		return store.Guard{}, err
	}
	for _, t := range []struct {
		from *time.Time
		to   *time.Time
	}{{locked, &g.LockedUntil}, {failed, &g.LastFailureAt}, {sent, &g.LastSentAt}} {
		if t.from != nil {
			*t.to = t.from.UTC()
		}
	}
	return g, nil
}

func writeGuard(ctx context.Context, tx pgx.Tx, g store.Guard) error {
	_, err := tx.Exec(ctx, writeGuardSQL, guardArgs(g)...)
	return err
}

// queueWriteGuard queues writeGuard's statement in b.
func queueWriteGuard(b *pgx.Batch, g store.Guard) { b.Queue(writeGuardSQL, guardArgs(g)...) }

const writeGuardSQL = `UPDATE sign_in_guards SET failures = $2, lockouts = $3, locked_until = $4,
	last_failure_at = $5, last_sent_at = $6 WHERE voter_id = $1`

func guardArgs(g store.Guard) []any {
	return []any{g.VoterID, g.Failures, g.Lockouts, nullTime(g.LockedUntil), nullTime(g.LastFailureAt), nullTime(g.LastSentAt)}
}

// nullTime is nil (SQL NULL) for the zero time, t otherwise.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// DeleteSignIn removes a voter's pending sign-in and its codes; deleting one that
// does not exist is not an error.
func (s *Store) DeleteSignIn(ctx context.Context, voterID string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM sign_ins WHERE voter_id = $1", voterID)
	return wrap("delete sign-in", err)
}

// CreateSession stores a new session; an id hash already in use is an error.
func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	return wrap("create session", insertSession(ctx, s.pool, ss))
}

// insertSession creates the session ss with q (the pool, or a transaction).
func insertSession(ctx context.Context, q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, ss store.Session) error {
	_, err := q.Exec(ctx, insertSessionSQL, sessionArgs(ss)...)
	return err
}

const insertSessionSQL = `INSERT INTO sessions (id_hash, voter_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)`

func sessionArgs(ss store.Session) []any {
	return []any{nonNil(ss.IDHash), ss.VoterID, ss.CreatedAt, ss.LastSeenAt}
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
