package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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

// ImportRoll replaces the roll in one transaction. Re-importing the current
// digest is a no-op, even once voting has started.
func (s *Store) ImportRoll(ctx context.Context, voters []store.Voter, digest string) (bool, error) {
	if err := checkRoll(voters); err != nil {
		return false, err
	}
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
		if _, err := tx.ExecContext(ctx, "DELETE FROM roll"); err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO roll (voter_id, name, email, phone, weight, credential_hash)
			VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, v := range voters {
			if _, err := ins.ExecContext(ctx, v.ID, v.Name, v.Email, v.Phone, v.Weight, nullable(v.CredentialHash)); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO roll_meta (id, digest) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET digest = excluded.digest`, digest)
		imported = err == nil
		return err
	})
	return imported && err == nil, err
}

// checkRoll refuses a roll with an empty or repeated voter id before anything is
// written (the primary key would refuse it too, with a less helpful message).
func checkRoll(voters []store.Voter) error {
	seen := make(map[string]bool, len(voters))
	for i, v := range voters {
		if v.ID == "" {
			return fmt.Errorf("embedded: import roll: voter %d has no id", i+1)
		}
		if seen[v.ID] {
			return fmt.Errorf("embedded: import roll: voter id %q appears twice", v.ID)
		}
		seen[v.ID] = true
	}
	return nil
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
