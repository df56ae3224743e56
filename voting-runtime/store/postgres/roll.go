package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"

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
	nv, err := store.GenerateKeys(name, gen)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// Whoever inserts first wins; everyone reads the winner's value back.
	if _, err := s.pool.Exec(ctx, "INSERT INTO keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
		name, nv); err != nil {
		return nil, wrap("keys", err)
	}
	err = s.pool.QueryRow(ctx, "SELECT value FROM keys WHERE name = $1", name).Scan(&v)
	return v, wrap("keys", err)
}

// ImportRoll replaces the roll in one transaction. It first takes a lock on
// participation that no Cast can share and that imports take one at a time, then
// reads the digest: a second process importing the same roll waits, then finds it
// imported and reads none of its entries. Re-importing the current digest is a
// no-op, even once voting has started.
//
// The entries stream with one COPY into a temporary table (voters and letters side
// by side, in file order), from which the roll and the outbox are filled: memory
// stays bounded whatever the roll's size, and nothing is visible before the commit.
func (s *Store) ImportRoll(ctx context.Context, digest string, entries store.RollEntries) (bool, error) {
	imported := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE participation IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return err
		}
		var current string
		err := tx.QueryRow(ctx, "SELECT digest FROM roll_meta").Scan(&current)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		change, err := store.RollChange(current, err == nil, digest, func() (cast bool, err error) {
			err = tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM participation)").Scan(&cast)
			return cast, err
		})
		if !change || err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE roll_import (
				n bigint NOT NULL, voter_id text COLLATE "C" NOT NULL, name text NOT NULL, email text NOT NULL,
				phone text NOT NULL, weight bigint NOT NULL, credential_hash bytea,
				public_credential text COLLATE "C", kind text, channel text, sealed bytea, not_after timestamptz
			) ON COMMIT DROP`); err != nil {
			return err
		}
		next, stop := iter.Pull2(iter.Seq2[store.RollEntry, error](entries))
		defer stop()
		var n int64
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"roll_import"},
			[]string{"n", "voter_id", "name", "email", "phone", "weight", "credential_hash", "public_credential",
				"kind", "channel", "sealed", "not_after"},
			pgx.CopyFromFunc(func() ([]any, error) {
				e, err, ok := next()
				if !ok {
					return nil, nil
				}
				if err != nil {
					return nil, err
				}
				n++
				if e, err = store.CheckRollEntry(int(n), e); err != nil {
					return nil, err
				}
				v := e.Voter
				var pc *string
				if v.PublicCredential != "" {
					pc = &v.PublicCredential
				}
				row := []any{n, v.ID, v.Name, v.Email, v.Phone, v.Weight, v.CredentialHash, pc, nil, nil, nil, nil}
				if l := e.Letter; l != nil {
					row[8], row[9], row[10], row[11] = l.Kind, l.Channel, l.Sealed, l.NotAfter
				}
				return row, nil
			}))
		if err != nil {
			return err
		}
		// The old roll's letters will never be sent: the new roll brings its own.
		if _, err := tx.Exec(ctx, `UPDATE outbox SET state = 'withdrawn', sealed = NULL, updated_at = now()
			WHERE kind = 'credential' AND state = 'queued'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM roll"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO roll (voter_id, name, email, phone, weight, credential_hash, public_credential)
			SELECT voter_id, name, email, phone, weight, credential_hash, public_credential FROM roll_import`); err != nil {
			switch code, constraint := pgCode(err); {
			case code == "23505" && constraint == "roll_public_credential":
				return errors.New("a public credential appears twice")
			case code == "23505":
				return errors.New("a voter id appears twice")
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (voter_id, kind, channel, sealed, not_after)
			SELECT voter_id, kind, channel, sealed, not_after FROM roll_import
			WHERE kind IS NOT NULL ORDER BY n`); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO roll_meta (digest) VALUES ($1)
			ON CONFLICT (id) DO UPDATE SET digest = excluded.digest`, digest)
		imported = err == nil
		return err
	}, "import roll")
	return imported && err == nil, err
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
	err := s.pool.QueryRow(ctx, `SELECT voter_id, name, email, phone, weight, credential_hash,
		coalesce(public_credential, '') FROM roll WHERE voter_id = $1`, id).
		Scan(&v.ID, &v.Name, &v.Email, &v.Phone, &v.Weight, &v.CredentialHash, &v.PublicCredential)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Voter{}, store.ErrNotFound
	}
	return v, wrap("voter", err)
}
