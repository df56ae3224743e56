package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Unreached lists the failed or bounced messages no later message of the same
// voter and kind followed (queued, sent or delivered), newest first.
func (s *Store) Unreached(ctx context.Context, limit int) ([]store.OutboxMessage, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+outboxColumns+` FROM outbox o WHERE state IN ('failed', 'bounced')
		AND NOT EXISTS (SELECT FROM outbox n WHERE n.voter_id = o.voter_id AND n.kind = o.kind AND n.id > o.id
			AND n.state IN ('queued', 'sent', 'delivered'))
		ORDER BY id DESC LIMIT $1`, max(limit, 0))
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.OutboxMessage, error) {
		return scanMessage(row, false)
	})
	return msgs, wrap("unreached", err)
}
