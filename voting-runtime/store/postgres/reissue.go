package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// ReissueCredential replaces a voter's credential hash, withdraws their queued
// credential letters, ends their sessions and enqueues the new letter, in one
// transaction. The voter's roll row is locked first (FOR UPDATE, which a cast's
// foreign-key check on participation waits for): a cast either committed
// before, and the re-issue is refused, or waits for it.
func (s *Store) ReissueCredential(ctx context.Context, voterID string, hash []byte, letter store.OutboxMessage) (int, int64, error) {
	if err := letter.Check(); err != nil {
		return 0, 0, fmt.Errorf("postgres: reissue: %w", err)
	}
	if letter.VoterID != voterID || letter.Kind != store.KindCredential || len(hash) == 0 {
		return 0, 0, fmt.Errorf("postgres: reissue: a credential letter for voter %q and a hash are required", voterID)
	}
	var withdrawn int64
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM roll WHERE voter_id = $1 FOR UPDATE", voterID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var voted bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM participation WHERE voter_id = $1)", voterID).Scan(&voted); err != nil {
			return err
		}
		if voted {
			return store.ErrAlreadyVoted
		}
		if _, err := tx.Exec(ctx, "UPDATE roll SET credential_hash = $2 WHERE voter_id = $1", voterID, hash); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE outbox SET state = 'withdrawn', sealed = NULL, updated_at = now()
			WHERE voter_id = $1 AND kind = $2 AND state = 'queued'`, voterID, store.KindCredential)
		if err != nil {
			return err
		}
		withdrawn = tag.RowsAffected()
		if _, err := tx.Exec(ctx, "DELETE FROM sessions WHERE voter_id = $1", voterID); err != nil {
			return err
		}
		ids, err := enqueue(ctx, tx, []store.OutboxMessage{letter})
		if err != nil {
			return err
		}
		id = ids[0]
		return nil
	}, "reissue")
	if err != nil {
		return 0, 0, err
	}
	return int(withdrawn), id, nil
}
