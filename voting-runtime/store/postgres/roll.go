package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Keys returns the keys stored under name, creating them with gen the first time.
// When several pods create them at once, one value wins and all return it.
func (s *Store) Keys(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, "SELECT value FROM keys WHERE name = $1", name).Scan(&v)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("keys", err)
	}
	nv, err := gen()
	if err != nil {
		return nil, fmt.Errorf("postgres: generating keys %q: %w", name, err)
	}
	if nv == nil {
		nv = []byte{}
	}
	// Whoever inserts first wins; everyone reads the winner's value back.
	if _, err := s.pool.Exec(ctx, "INSERT INTO keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
		name, nv); err != nil {
		return nil, wrap("keys", err)
	}
	err = s.pool.QueryRow(ctx, "SELECT value FROM keys WHERE name = $1", name).Scan(&v)
	return v, wrap("keys", err)
}

// ImportRoll replaces the roll in one transaction, with COPY. It holds a lock on
// participation that no Cast can share, so a roll never changes under a ballot,
// and imports run one at a time. Re-importing the current digest is a no-op, even
// once voting has started.
func (s *Store) ImportRoll(ctx context.Context, voters []store.Voter, digest string) (bool, error) {
	if err := checkRoll(voters); err != nil {
		return false, err
	}
	imported := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE participation IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var current string
		err := tx.QueryRow(ctx, "SELECT digest FROM roll_meta").Scan(&current)
		if err == nil && current == digest {
			return nil
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var locked bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM participation)").Scan(&locked); err != nil {
			return err
		}
		if locked {
			return store.ErrRollLocked
		}
		if _, err := tx.Exec(ctx, "DELETE FROM roll"); err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"roll"},
			[]string{"voter_id", "name", "email", "phone", "weight", "credential_hash"},
			pgx.CopyFromSlice(len(voters), func(i int) ([]any, error) {
				v := voters[i]
				return []any{v.ID, v.Name, v.Email, v.Phone, v.Weight, v.CredentialHash}, nil
			}))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO roll_meta (digest) VALUES ($1)
			ON CONFLICT (id) DO UPDATE SET digest = excluded.digest`, digest)
		imported = err == nil
		return err
	}, "import roll")
	return imported && err == nil, err
}

// checkRoll refuses a roll with an empty or repeated voter id before anything is
// written (the primary key would refuse it too, with a less helpful message).
func checkRoll(voters []store.Voter) error {
	seen := make(map[string]bool, len(voters))
	for i, v := range voters {
		if v.ID == "" {
			return fmt.Errorf("postgres: import roll: voter %d has no id", i+1)
		}
		if seen[v.ID] {
			return fmt.Errorf("postgres: import roll: voter id %q appears twice", v.ID)
		}
		seen[v.ID] = true
	}
	return nil
}

// RollDigest is the digest of the roll imported, "" when none.
func (s *Store) RollDigest(ctx context.Context) (string, error) {
	var d string
	err := s.pool.QueryRow(ctx, "SELECT digest FROM roll_meta").Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return d, wrap("roll digest", err)
}

// Voter returns the roll's line for id, or store.ErrNotFound.
func (s *Store) Voter(ctx context.Context, id string) (store.Voter, error) {
	var v store.Voter
	err := s.pool.QueryRow(ctx, `SELECT voter_id, name, email, phone, weight, credential_hash
		FROM roll WHERE voter_id = $1`, id).
		Scan(&v.ID, &v.Name, &v.Email, &v.Phone, &v.Weight, &v.CredentialHash)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Voter{}, store.ErrNotFound
	}
	return v, wrap("voter", err)
}
