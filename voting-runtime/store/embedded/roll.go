package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
	nv, err := gen()
	if err != nil {
		return nil, fmt.Errorf("embedded: generating keys %q: %w", name, err)
	}
	if nv == nil {
		nv = []byte{}
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
		if err == nil && current == digest {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var locked bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM participation)").Scan(&locked); err != nil {
			return err
		}
		if locked {
			return store.ErrRollLocked
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
		ins, err := tx.PrepareContext(ctx, `INSERT INTO roll (voter_id, name, email, phone, weight, credential_hash)
			VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		letters, err := prepareEnqueue(ctx, tx)
		if err != nil {
			return err
		}
		defer letters.Close()
		n := 0
		for e, err := range entries {
			if err != nil {
				return err
			}
			n++
			v := e.Voter
			if v.ID == "" {
				return fmt.Errorf("voter %d has no id", n)
			}
			if _, err := ins.ExecContext(ctx, v.ID, v.Name, v.Email, v.Phone, v.Weight, nullable(v.CredentialHash)); err != nil {
				if isConstraint(err) {
					return fmt.Errorf("voter %d: a voter id appears twice", n)
				}
				return err
			}
			if e.Letter != nil {
				l := *e.Letter
				l.VoterID = v.ID
				if err := l.Check(); err != nil {
					return fmt.Errorf("voter %d's letter: %w", n, err)
				}
				if _, err := enqueueOne(ctx, letters, l, now); err != nil {
					return err
				}
			}
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
	err := s.r.QueryRowContext(ctx, `SELECT voter_id, name, email, phone, weight, credential_hash
		FROM roll WHERE voter_id = ?`, id).
		Scan(&v.ID, &v.Name, &v.Email, &v.Phone, &v.Weight, &v.CredentialHash)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Voter{}, store.ErrNotFound
	}
	return v, wrap("voter", err)
}

// isConstraint tells whether err is SQLite's SQLITE_CONSTRAINT (a primary key
// or unique index refusing a row).
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 19
}
