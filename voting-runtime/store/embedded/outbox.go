package embedded

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The outbox's times are the store's clock (Store.Clock): one process writes the
// file. Every write goes through the single writer connection in a BEGIN
// IMMEDIATE transaction, so a Claim sees no other write between choosing its rows
// and leasing them; other processes opening the file wait for the lock.

// outboxColumns are read into an OutboxMessage by scanMessage; sealed last.
const outboxColumns = "id, voter_id, kind, channel, not_after, created_at, attempts, state, reason, next_at, updated_at"

type scanner interface{ Scan(dest ...any) error }

func scanMessage(row scanner, sealed bool) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	var state string
	var notAfter, created, next, updated int64
	dest := []any{&m.ID, &m.VoterID, &m.Kind, &m.Channel, &notAfter, &created, &m.Attempts, &state,
		&m.Reason, &next, &updated}
	if sealed {
		dest = append(dest, &m.Sealed)
	}
	err := row.Scan(dest...)
	m.State = store.DeliveryState(state)
	m.NotAfter, m.CreatedAt, m.NextAt, m.UpdatedAt = micros(notAfter), micros(created), micros(next), micros(updated)
	return m, err
}

// Enqueue stores messages in one transaction and returns their ids in order.
func (s *Store) Enqueue(ctx context.Context, msgs ...store.OutboxMessage) ([]int64, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	for _, m := range msgs {
		if err := m.Check(); err != nil {
			return nil, fmt.Errorf("embedded: enqueue: %w", err)
		}
	}
	ids := make([]int64, 0, len(msgs))
	err := s.write(ctx, "enqueue", func(tx *sql.Tx) error {
		ins, err := prepareEnqueue(ctx, tx)
		if err != nil {
			return err
		}
		defer ins.Close()
		now := s.now().UnixMicro()
		for _, m := range msgs {
			id, err := enqueueOne(ctx, ins, m, now)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

func prepareEnqueue(ctx context.Context, tx *sql.Tx) (*sql.Stmt, error) {
	return tx.PrepareContext(ctx, `INSERT INTO outbox (voter_id, kind, channel, sealed, not_after, created_at, next_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6) RETURNING id`)
}

func enqueueOne(ctx context.Context, ins *sql.Stmt, m store.OutboxMessage, now int64) (int64, error) {
	var id int64
	err := ins.QueryRowContext(ctx, m.VoterID, m.Kind, m.Channel, nullable(m.Sealed), m.NotAfter.UnixMicro(), now).Scan(&id)
	return id, err
}

// Claim fails the channel's due messages past their NotAfter, and leases up to
// limit others, in one transaction: a claimed row's next_at moves to the end of
// its lease, so that no other claim sees it due until then.
func (s *Store) Claim(ctx context.Context, channel string, limit int, lease time.Duration) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, errors.New("embedded: claim: the lease must be positive")
	}
	var msgs []store.OutboxMessage
	err := s.write(ctx, "claim", func(tx *sql.Tx) error {
		now := s.now().UnixMicro()
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', reason = 'expired', sealed = NULL, updated_at = ?1
			WHERE state = 'queued' AND channel = ?2 AND next_at <= ?1 AND not_after <= ?1`, now, channel); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE outbox SET attempts = attempts + 1, next_at = ?1 + ?4
			WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND channel = ?2 AND next_at <= ?1
				ORDER BY next_at, id LIMIT ?3)
			RETURNING `+outboxColumns+`, sealed`, now, channel, limit, lease.Microseconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMessage(rows, true)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	sortByID(msgs)
	return msgs, nil
}

// Finish records an attempt's outcome, if the message is still queued and was
// not claimed again since (its attempts are still attempt).
func (s *Store) Finish(ctx context.Context, id int64, attempt int, o store.OutboxOutcome) (bool, error) {
	if err := o.Check(); err != nil {
		return false, fmt.Errorf("embedded: finish: %w", err)
	}
	done := false
	err := s.finishes.do(ctx, "finish", func(tx *sql.Tx) (err error) {
		done, err = s.finishOne(ctx, tx, id, attempt, o)
		return err
	})
	return done && err == nil, err
}

// finishOne records one outcome in tx; it reports whether the message was still
// queued under that attempt.
func (s *Store) finishOne(ctx context.Context, tx *sql.Tx, id int64, attempt int, o store.OutboxOutcome) (bool, error) {
	now := s.now().UnixMicro()
	var res sql.Result
	var err error
	if o.State == store.DeliveryQueued {
		retry := now
		if !o.RetryAt.IsZero() {
			retry = o.RetryAt.UnixMicro()
		}
		res, err = tx.ExecContext(ctx, `UPDATE outbox SET reason = ?, next_at = ?
			WHERE id = ? AND attempts = ? AND state = 'queued'`, o.Reason, retry, id, attempt)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE outbox SET state = ?, reason = ?, sealed = NULL, updated_at = ?
			WHERE id = ? AND attempts = ? AND state = 'queued'`, string(o.State), o.Reason, now, id, attempt)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Withdraw withdraws a voter's queued messages of a kind, erasing them.
func (s *Store) Withdraw(ctx context.Context, voterID, kind string) (int, error) {
	var n int64
	err := s.write(ctx, "withdraw", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'withdrawn', sealed = NULL, updated_at = ?
			WHERE voter_id = ? AND kind = ? AND state = 'queued'`, s.now().UnixMicro(), voterID, kind)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Report records what a gateway said of a message it was handed: a sent one, or
// one still queued after an attempt (the gateway's report may come before the
// worker records the send; the worker's Finish then records nothing). A message
// never attempted, failed or withdrawn is store.ErrNotFound.
func (s *Store) Report(ctx context.Context, id int64, state store.DeliveryState, reason string) error {
	if state != store.DeliveryDelivered && state != store.DeliveryBounced {
		return fmt.Errorf("embedded: report: a gateway cannot report %q", state)
	}
	return s.write(ctx, "report", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, reason = ?, sealed = NULL, updated_at = ?
			WHERE id = ? AND (state IN ('sent', 'delivered', 'bounced') OR (state = 'queued' AND attempts > 0))`,
			string(state), reason, s.now().UnixMicro(), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = store.ErrNotFound
			}
			return err
		}
		return nil
	})
}

// Deliveries lists a voter's messages, newest first, without their content.
func (s *Store) Deliveries(ctx context.Context, voterID string, limit int) ([]store.OutboxMessage, error) {
	var msgs []store.OutboxMessage
	err := s.query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE voter_id = ? ORDER BY id DESC LIMIT ?`,
		[]any{voterID, max(limit, 0)}, func(rows *sql.Rows) error {
			m, err := scanMessage(rows, false)
			msgs = append(msgs, m)
			return err
		})
	return msgs, wrap("deliveries", err)
}

// DeliveryCounts counts the messages by channel, kind and state.
func (s *Store) DeliveryCounts(ctx context.Context) ([]store.DeliveryCount, error) {
	var counts []store.DeliveryCount
	err := s.query(ctx, `SELECT channel, kind, state, count(*), min(created_at) FROM outbox
		GROUP BY channel, kind, state ORDER BY channel, kind, state`, nil, func(rows *sql.Rows) error {
		var c store.DeliveryCount
		var state string
		var oldest int64
		err := rows.Scan(&c.Channel, &c.Kind, &state, &c.N, &oldest)
		c.State, c.OldestCreatedAt = store.DeliveryState(state), micros(oldest)
		counts = append(counts, c)
		return err
	})
	return counts, wrap("delivery counts", err)
}

func sortByID(msgs []store.OutboxMessage) {
	slices.SortFunc(msgs, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
}
