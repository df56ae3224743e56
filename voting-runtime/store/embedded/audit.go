package embedded

import (
	"context"
	"database/sql"
	"errors"

	"scrutin.dev/scrutin/voting-runtime/audit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// AppendAudit chains entries after the head and inserts them, in one BEGIN
// IMMEDIATE transaction (which serialises appenders).
func (s *Store) AppendAudit(ctx context.Context, records ...store.AuditRecord) ([]store.AuditEntry, error) {
	if len(records) == 0 {
		return nil, nil
	}
	var out []store.AuditEntry
	err := s.write(ctx, "append audit", func(tx *sql.Tx) error {
		seq, hash := int64(0), audit.Genesis
		err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		out = audit.Chain(seq, hash, records)
		ins, err := tx.PrepareContext(ctx, "INSERT INTO audit (seq, kind, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, e := range out {
			if _, err := ins.ExecContext(ctx, e.Seq, e.Kind, nonNil(e.Data), e.PrevHash, e.Hash); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AuditLog returns the whole log, in order.
func (s *Store) AuditLog(ctx context.Context) ([]store.AuditEntry, error) {
	var es []store.AuditEntry
	err := s.query(ctx, "SELECT seq, kind, data, prev_hash, hash FROM audit ORDER BY seq", nil,
		func(rows *sql.Rows) error {
			var e store.AuditEntry
			err := rows.Scan(&e.Seq, &e.Kind, &e.Data, &e.PrevHash, &e.Hash)
			es = append(es, e)
			return err
		})
	return es, wrap("audit log", err)
}

// AuditHead is the hash of the last entry, audit.Genesis for an empty log.
func (s *Store) AuditHead(ctx context.Context) (string, error) {
	var h string
	err := s.r.QueryRowContext(ctx, "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Genesis, nil
	}
	return h, wrap("audit head", err)
}

// SetOpened records that the election opened.
func (s *Store) SetOpened(ctx context.Context) (bool, error) {
	res, err := s.w.ExecContext(ctx, "UPDATE state SET opened = 1 WHERE NOT opened")
	return changed(res, err), wrap("set opened", err)
}

// SetResults records the tally.
func (s *Store) SetResults(ctx context.Context, results []byte) (bool, error) {
	res, err := s.w.ExecContext(ctx, "UPDATE state SET results = ? WHERE results IS NULL", nullable(results))
	return changed(res, err), wrap("set results", err)
}

// changed reports whether an UPDATE changed one row.
func changed(res sql.Result, err error) bool {
	if err != nil {
		return false
	}
	n, err := res.RowsAffected()
	return err == nil && n == 1
}
