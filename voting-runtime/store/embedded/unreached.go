package embedded

import (
	"context"
	"database/sql"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Unreached lists the failed or bounced messages no later message of the same
// voter and kind followed (queued, sent or delivered), newest first.
func (s *Store) Unreached(ctx context.Context, limit int) ([]store.OutboxMessage, error) {
	var msgs []store.OutboxMessage
	err := s.query(ctx, `SELECT `+outboxColumns+` FROM outbox o WHERE state IN ('failed', 'bounced')
		AND NOT EXISTS (SELECT 1 FROM outbox n WHERE n.voter_id = o.voter_id AND n.kind = o.kind AND n.id > o.id
			AND n.state IN ('queued', 'sent', 'delivered'))
		ORDER BY id DESC LIMIT ?`, []any{max(limit, 0)}, func(rows *sql.Rows) error {
		m, err := scanMessage(rows, false)
		msgs = append(msgs, m)
		return err
	})
	return msgs, wrap("unreached", err)
}
