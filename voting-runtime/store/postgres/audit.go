package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// AppendAudit chains entries after the head and inserts them, in one transaction.
// A SHARE ROW EXCLUSIVE lock on the table (which readers do not wait for)
// serialises appenders, from an empty log on.
func (s *Store) AppendAudit(ctx context.Context, records ...store.AuditRecord) ([]store.AuditEntry, error) {
	if len(records) == 0 {
		return nil, nil
	}
	var out []store.AuditEntry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		seq, hash := int64(0), audit.Genesis
		err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		out = audit.Chain(seq, hash, records)
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit"}, []string{"seq", "kind", "data", "prev_hash", "hash"},
			pgx.CopyFromSlice(len(out), func(i int) ([]any, error) {
				e := out[i]
				return []any{e.Seq, e.Kind, nonNil(e.Data), e.PrevHash, e.Hash}, nil
			}))
		return err
	}, "append audit")
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AuditLog returns the whole log, in order.
func (s *Store) AuditLog(ctx context.Context) ([]store.AuditEntry, error) {
	rows, _ := s.pool.Query(ctx, "SELECT seq, kind, data, prev_hash, hash FROM audit ORDER BY seq")
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditEntry, error) {
		var e store.AuditEntry
		err := r.Scan(&e.Seq, &e.Kind, &e.Data, &e.PrevHash, &e.Hash)
		return e, err
	})
	return es, wrap("audit log", err)
}

// AuditHead is the hash of the last entry, audit.Genesis for an empty log.
func (s *Store) AuditHead(ctx context.Context) (string, error) {
	var h string
	err := s.pool.QueryRow(ctx, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return audit.Genesis, nil
	}
	return h, wrap("audit head", err)
}

// SetOpened records that the election opened.
func (s *Store) SetOpened(ctx context.Context) (bool, error) {
	tag, err := s.pool.Exec(ctx, "UPDATE state SET opened = true WHERE NOT opened")
	return err == nil && tag.RowsAffected() == 1, wrap("set opened", err)
}

// SetResults records the tally.
func (s *Store) SetResults(ctx context.Context, results []byte) (bool, error) {
	tag, err := s.pool.Exec(ctx, "UPDATE state SET results = $1 WHERE results IS NULL", results)
	return err == nil && tag.RowsAffected() == 1, wrap("set results", err)
}
