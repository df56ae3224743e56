package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Keys returns the keys stored under name, creating them with gen the first time.
func (s *Store) Keys(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM keys WHERE name = ?", name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("keys", err)
	}
	nv, err := store.GenerateKeys(name, gen)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	// Another process may have created them meanwhile: its value wins.
	err = s.write(ctx, "keys", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
			name, nv); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM keys WHERE name = ?", name).Scan(&v)
	})
	return v, err
}

// ImportRoll replaces the roll in one BEGIN IMMEDIATE transaction, which also
// orders imports from several processes: the second one finds the digest
// imported and reads none of its entries. Entries stream through prepared
// inserts, each letter enqueued beside its voter. Re-importing the current digest
// is a no-op, even once voting has started.
func (s *Store) ImportRoll(ctx context.Context, digest string, entries store.RollEntries) (bool, error) {
	imported := false
	err := s.write(ctx, "import roll", func(tx *sql.Tx) error {
		var current string
		err := tx.QueryRowContext(ctx, "SELECT digest FROM roll_meta").Scan(&current)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		change, err := store.RollChange(current, err == nil, digest, func() (cast bool, err error) {
			err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM participation)").Scan(&cast)
			return cast, err
		})
		if !change || err != nil {
			return err
		}
		now := s.now().UnixMicro()
		// The old roll's letters will never be sent: the new roll brings its own.
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'withdrawn', sealed = NULL, updated_at = ?
			WHERE kind = 'credential' AND state = 'queued'`, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM roll"); err != nil {
			return err
		}
		b := newImportBatch(tx, now)
		defer b.close()
		n := 0
		for e, err := range entries {
			if err != nil {
				return err
			}
			n++
			if e, err = store.CheckRollEntry(n, e); err != nil {
				return err
			}
			if err := b.add(ctx, e, n); err != nil {
				return err
			}
		}
		if err := b.flush(ctx, n); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO roll_meta (id, digest) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET digest = excluded.digest`, digest)
		imported = err == nil
		return err
	})
	return imported && err == nil, err
}

// RollDigest is the digest of the roll imported, "" when none.
func (s *Store) RollDigest(ctx context.Context) (string, error) {
	var d string
	err := s.r.QueryRowContext(ctx, "SELECT digest FROM roll_meta").Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return d, wrap("roll digest", err)
}

// Voter returns the roll's line for id, or store.ErrNotFound.
func (s *Store) Voter(ctx context.Context, id string) (store.Voter, error) {
	var v store.Voter
	err := s.r.QueryRowContext(ctx, `SELECT voter_id, name, email, phone, weight, credential_hash,
		coalesce(public_credential, '') FROM roll WHERE voter_id = ?`, id).
		Scan(&v.ID, &v.Name, &v.Email, &v.Phone, &v.Weight, &v.CredentialHash, &v.PublicCredential)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Voter{}, store.ErrNotFound
	}
	return v, wrap("voter", err)
}

// nullString is s, or NULL when s is empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// isConstraint tells whether err is SQLite's SQLITE_CONSTRAINT (a primary key
// or unique index refusing a row).
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 19
}

// importBatchSize is how many voters (and letters) one INSERT writes: far fewer
// statements than rows, far fewer variables than SQLite's limit (32,766).
const importBatchSize = 128

// importBatch writes a roll's entries importBatchSize at a time, with a
// statement prepared once for full batches.
type importBatch struct {
	tx              *sql.Tx
	now             int64
	voters, letters []any // the arguments of the batch under way
	nv, nl          int
	full            [2]*sql.Stmt // voters, letters
}

const (
	voterInsert  = "INSERT INTO roll (voter_id, name, email, phone, weight, credential_hash, public_credential) VALUES "
	voterValues  = "(?, ?, ?, ?, ?, ?, ?)"
	letterInsert = "INSERT INTO outbox (voter_id, kind, channel, sealed, not_after, created_at, next_at, updated_at) VALUES "
	letterValues = "(?, ?, ?, ?, ?, ?, ?, ?)"
)

func newImportBatch(tx *sql.Tx, now int64) *importBatch {
	return &importBatch{tx: tx, now: now}
}

// add adds entry n (from 1) to the batch, writing the batch when full.
func (b *importBatch) add(ctx context.Context, e store.RollEntry, n int) error {
	v := e.Voter
	b.voters = append(b.voters, v.ID, v.Name, v.Email, v.Phone, v.Weight, nullable(v.CredentialHash),
		nullString(v.PublicCredential))
	b.nv++
	if l := e.Letter; l != nil {
		b.letters = append(b.letters, l.VoterID, l.Kind, l.Channel, nullable(l.Sealed), l.NotAfter.UnixMicro(),
			b.now, b.now, b.now)
		b.nl++
	}
	if b.nv < importBatchSize {
		return nil
	}
	return b.flush(ctx, n)
}

// flush writes the batch under way, whose last entry is n.
func (b *importBatch) flush(ctx context.Context, n int) error {
	if b.nv > 0 {
		if err := b.exec(ctx, 0, voterInsert, voterValues, b.nv, b.voters); err != nil {
			if isConstraint(err) && strings.Contains(err.Error(), "public_credential") {
				return fmt.Errorf("voters %d to %d: a public credential appears twice", n-b.nv+1, n)
			}
			if isConstraint(err) {
				return fmt.Errorf("voters %d to %d: a voter id appears twice", n-b.nv+1, n)
			}
			return err
		}
	}
	if b.nl > 0 {
		if err := b.exec(ctx, 1, letterInsert, letterValues, b.nl, b.letters); err != nil {
			return err
		}
	}
	b.voters, b.letters, b.nv, b.nl = b.voters[:0], b.letters[:0], 0, 0
	return nil
}

func (b *importBatch) exec(ctx context.Context, which int, insert, values string, rows int, args []any) error {
	if rows < importBatchSize {
		_, err := b.tx.ExecContext(ctx, insert+rowsOf(values, rows), args...)
		return err
	}
	if b.full[which] == nil {
		st, err := b.tx.PrepareContext(ctx, insert+rowsOf(values, importBatchSize))
		if err != nil {
			return err
		}
		b.full[which] = st
	}
	_, err := b.full[which].ExecContext(ctx, args...)
	return err
}

func (b *importBatch) close() {
	for _, st := range b.full {
		if st != nil {
			st.Close()
		}
	}
}

// rowsOf is values, n times, comma-separated.
func rowsOf(values string, n int) string {
	return strings.Repeat(values+", ", n-1) + values
}
