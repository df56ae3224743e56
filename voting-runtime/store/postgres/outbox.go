package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// The outbox's times are the database's (now()): replicas whose clocks differ
// still agree on leases.

// outboxColumns are read into an OutboxMessage by scanMessage; sealed last.
const outboxColumns = "id, voter_id, kind, channel, not_after, created_at, attempts, state, reason, next_at, updated_at"

func scanMessage(row pgx.CollectableRow, sealed bool) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	var state string
	dest := []any{&m.ID, &m.VoterID, &m.Kind, &m.Channel, &m.NotAfter, &m.CreatedAt, &m.Attempts, &state,
		&m.Reason, &m.NextAt, &m.UpdatedAt}
	if sealed {
		dest = append(dest, &m.Sealed)
	}
	err := row.Scan(dest...)
	m.State = store.DeliveryState(state)
	return m, err
}

// Enqueue stores messages in one statement and returns their ids in order.
func (s *Store) Enqueue(ctx context.Context, msgs ...store.OutboxMessage) ([]int64, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	return enqueue(ctx, s.pool, msgs)
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func enqueue(ctx context.Context, q querier, msgs []store.OutboxMessage) ([]int64, error) {
	voters := make([]string, len(msgs))
	kinds := make([]string, len(msgs))
	channels := make([]string, len(msgs))
	sealed := make([][]byte, len(msgs))
	notAfter := make([]time.Time, len(msgs))
	for i, m := range msgs {
		if err := m.Check(); err != nil {
			return nil, fmt.Errorf("postgres: enqueue: %w", err)
		}
		voters[i], kinds[i], channels[i], sealed[i], notAfter[i] = m.VoterID, m.Kind, m.Channel, m.Sealed, m.NotAfter
	}
	// Identity values are drawn in the order rows are inserted, which is unnest's:
	// sorted, the ids follow msgs.
	rows, _ := q.Query(ctx, `INSERT INTO outbox (voter_id, kind, channel, sealed, not_after)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[])
		RETURNING id`, voters, kinds, channels, sealed, notAfter)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, wrap("enqueue", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// Claim fails the channel's due messages past their NotAfter, and leases up to
// limit others, in one statement: FOR UPDATE SKIP LOCKED lets claims from several
// processes pass each other without waiting nor taking the same row, and a claimed
// row's next_at moves to the end of its lease, so that no other claim sees it due
// until then.
func (s *Store) Claim(ctx context.Context, channel string, limit int, lease time.Duration) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		return nil, nil
	}
	if lease <= 0 {
		return nil, errors.New("postgres: claim: the lease must be positive")
	}
	rows, _ := s.pool.Query(ctx, `WITH expired AS (
			UPDATE outbox SET state = 'failed', reason = 'expired', sealed = NULL, updated_at = now()
			WHERE id IN (SELECT id FROM outbox
				WHERE state = 'queued' AND channel = $1 AND next_at <= now() AND not_after <= now()
				FOR UPDATE SKIP LOCKED)
		), picked AS (
			SELECT id FROM outbox
			WHERE state = 'queued' AND channel = $1 AND next_at <= now() AND not_after > now()
			ORDER BY next_at, id LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox o SET attempts = o.attempts + 1, next_at = now() + $3 * interval '1 microsecond'
		FROM picked WHERE o.id = picked.id
		RETURNING `+prefixed("o.", outboxColumns)+`, o.sealed`, channel, limit, lease.Microseconds())
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OutboxMessage, error) {
		return scanMessage(row, true)
	})
	if err != nil {
		return nil, wrap("claim", err)
	}
	slices.SortFunc(msgs, func(a, b store.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return msgs, nil
}

// Finish records an attempt's outcome, if the message is still queued and was
// not claimed again since (its attempts are still attempt). The outcomes
// recorded at once by a process's delivery workers are committed together
// (finishGroup).
func (s *Store) Finish(ctx context.Context, id int64, attempt int, o store.OutboxOutcome) (bool, error) {
	if err := o.Check(); err != nil {
		return false, fmt.Errorf("postgres: finish: %w", err)
	}
	r := &finishRequest{ctx: ctx, id: id, attempt: attempt, outcome: o}
	err := s.finishes.Do(r)
	return r.ok, err
}

// finishOne is Finish alone, in its own statement.
func (s *Store) finishOne(ctx context.Context, id int64, attempt int, o store.OutboxOutcome) (bool, error) {
	var retryAt *time.Time
	if o.State == store.DeliveryQueued && !o.RetryAt.IsZero() {
		retryAt = &o.RetryAt
	}
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET state = $3, reason = $4,
			next_at = CASE WHEN $3 = 'queued' THEN coalesce($5, now()) ELSE next_at END,
			sealed = CASE WHEN $3 = 'queued' THEN sealed END,
			updated_at = CASE WHEN $3 = 'queued' THEN updated_at ELSE now() END
		WHERE id = $1 AND attempts = $2 AND state = 'queued'`,
		id, attempt, string(o.State), o.Reason, retryAt)
	if err != nil {
		return false, wrap("finish", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Withdraw withdraws a voter's queued messages of a kind, erasing them.
func (s *Store) Withdraw(ctx context.Context, voterID, kind string) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET state = 'withdrawn', sealed = NULL, updated_at = now()
		WHERE voter_id = $1 AND kind = $2 AND state = 'queued'`, voterID, kind)
	if err != nil {
		return 0, wrap("withdraw", err)
	}
	return int(tag.RowsAffected()), nil
}

// Report records what a gateway said of a message it was handed: a sent one, or
// one still queued after an attempt (the gateway's report may come before the
// worker records the send; the worker's Finish then records nothing). A message
// never attempted, failed or withdrawn is store.ErrNotFound.
func (s *Store) Report(ctx context.Context, id int64, state store.DeliveryState, reason string) error {
	if state != store.DeliveryDelivered && state != store.DeliveryBounced {
		return fmt.Errorf("postgres: report: a gateway cannot report %q", state)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET state = $2, reason = $3, sealed = NULL, updated_at = now()
		WHERE id = $1 AND (state IN ('sent', 'delivered', 'bounced') OR (state = 'queued' AND attempts > 0))`,
		id, string(state), reason)
	if err != nil {
		return wrap("report", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Deliveries lists a voter's messages, newest first, without their content.
func (s *Store) Deliveries(ctx context.Context, voterID string, limit int) ([]store.OutboxMessage, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE voter_id = $1
		ORDER BY id DESC LIMIT $2`, voterID, max(limit, 0))
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OutboxMessage, error) {
		return scanMessage(row, false)
	})
	return msgs, wrap("deliveries", err)
}

// DeliveryCounts counts the messages by channel, kind and state.
func (s *Store) DeliveryCounts(ctx context.Context) ([]store.DeliveryCount, error) {
	rows, _ := s.pool.Query(ctx, `SELECT channel, kind, state, count(*), min(created_at) FROM outbox
		GROUP BY channel, kind, state ORDER BY channel, kind, state`)
	counts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DeliveryCount, error) {
		var c store.DeliveryCount
		var state string
		err := row.Scan(&c.Channel, &c.Kind, &state, &c.N, &c.OldestCreatedAt)
		c.State = store.DeliveryState(state)
		return c, err
	})
	return counts, wrap("delivery counts", err)
}

// prefixed qualifies each of a comma-separated list of columns with p.
func prefixed(p, columns string) string {
	out := []byte(p)
	for i := 0; i < len(columns); i++ {
		out = append(out, columns[i])
		if columns[i] == ' ' && i > 0 && columns[i-1] == ',' {
			out = append(out, p...)
		}
	}
	return string(out)
}

// Group commit of delivery outcomes (store.Group): at the noon peak every code
// sent is an outcome to record, each its own commit and flush to disk; the
// outcomes that arrive while a group is being recorded are recorded by the next
// group's one statement. A message is never twice in a group. When the group's
// statement fails, each outcome is recorded alone (finishOne).

type finishRequest struct {
	ctx     context.Context
	id      int64
	attempt int
	outcome store.OutboxOutcome
	ok      bool // the outcome was recorded (set before Do returns)
}

const maxFinishGroup = 256

const finishGroupSQL = `UPDATE outbox o SET state = f.state, reason = f.reason,
		next_at = CASE WHEN f.state = 'queued' THEN coalesce(f.retry_at, now()) ELSE o.next_at END,
		sealed = CASE WHEN f.state = 'queued' THEN o.sealed END,
		updated_at = CASE WHEN f.state = 'queued' THEN o.updated_at ELSE now() END
	FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::timestamptz[]) AS f(id, attempts, state, reason, retry_at)
	WHERE o.id = f.id AND o.attempts = f.attempts AND o.state = 'queued'
	RETURNING o.id`

func (s *Store) commitFinishes(take func() []*finishRequest) []error {
	group := take()
	errs := make([]error, len(group))
	ids := make([]int64, 0, len(group))
	attempts := make([]int32, 0, len(group))
	states := make([]string, 0, len(group))
	reasons := make([]string, 0, len(group))
	retries := make([]*time.Time, 0, len(group))
	for _, r := range group {
		var retryAt *time.Time
		if r.outcome.State == store.DeliveryQueued && !r.outcome.RetryAt.IsZero() {
			retryAt = &r.outcome.RetryAt
		}
		ids, attempts = append(ids, r.id), append(attempts, int32(r.attempt))
		states, reasons, retries = append(states, string(r.outcome.State)), append(reasons, r.outcome.Reason), append(retries, retryAt)
	}
	recorded := map[int64]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	rows, _ := s.pool.Query(ctx, finishGroupSQL, ids, attempts, states, reasons, retries)
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { recorded[id] = true; return nil }); err != nil {
		for i, r := range group { // each alone, for its own outcome
			r.ok, errs[i] = s.finishOne(r.ctx, r.id, r.attempt, r.outcome)
		}
		return errs
	}
	for _, r := range group {
		r.ok = recorded[r.id]
	}
	return errs
}
