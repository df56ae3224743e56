package embedded

import (
	"context"
	"database/sql"
	"fmt"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// ReissueCredential replaces a voter's credential hash, withdraws their queued
// credential letters, ends their sessions and enqueues the new letter, in one
// write transaction (BEGIN IMMEDIATE: no cast interleaves with it).
func (s *Store) ReissueCredential(ctx context.Context, voterID string, hash []byte, letter store.OutboxMessage) (int, int64, error) {
	if err := letter.Check(); err != nil {
		return 0, 0, fmt.Errorf("embedded: reissue: %w", err)
	}
	if letter.VoterID != voterID || letter.Kind != store.KindCredential || len(hash) == 0 {
		return 0, 0, fmt.Errorf("embedded: reissue: a credential letter for voter %q and a hash are required", voterID)
	}
	var withdrawn int64
	var id int64
	err := s.write(ctx, "reissue", func(tx *sql.Tx) error {
		var onRoll, voted bool
		if err := tx.QueryRowContext(ctx, `SELECT
				EXISTS (SELECT 1 FROM roll WHERE voter_id = ?1),
				EXISTS (SELECT 1 FROM participation WHERE voter_id = ?1)`, voterID).Scan(&onRoll, &voted); err != nil {
			return err
		}
		switch {
		case !onRoll:
			return store.ErrNotFound
		case voted:
			return store.ErrAlreadyVoted
		}
		now := s.now().UnixMicro()
		if _, err := tx.ExecContext(ctx, "UPDATE roll SET credential_hash = ? WHERE voter_id = ?", hash, voterID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'withdrawn', sealed = NULL, updated_at = ?
			WHERE voter_id = ? AND kind = ? AND state = 'queued'`, now, voterID, store.KindCredential)
		if err != nil {
			return err
		}
		if withdrawn, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE voter_id = ?", voterID); err != nil {
			return err
		}
		ins, err := prepareEnqueue(ctx, tx)
		if err != nil {
			return err
		}
		defer ins.Close()
		id, err = enqueueOne(ctx, ins, letter, now)
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return int(withdrawn), id, nil
}
