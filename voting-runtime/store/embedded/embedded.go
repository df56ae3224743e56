// Package embedded is the voting-runtime's store in one SQLite file
// (modernc.org/sqlite, pure Go), for a single pod. It implements store.Store with
// the guarantees that package documents.
//
// The file is in WAL mode with synchronous=FULL: a commit, hence a returned Cast,
// is fsync'd to the WAL and survives a kill -9 or a power cut as far as SQLite and
// the disk can promise. Writes go through a single connection and BEGIN IMMEDIATE
// transactions (SQLite has one writer anyway; other processes opening the file
// wait on busy_timeout); reads use a pool of read-only connections and run
// alongside. Errors never carry a credential or code hash, nor a ballot payload.
//
// What the schema cannot hide: the WAL file keeps recent commits in order until
// they are checkpointed and overwritten, each holding a voter's participation row
// next to the ballot. Someone with the file can link them; secrecy against the
// operator rests on encrypting the payload, not on this schema.
package embedded

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"scrutin.dev/scrutin/voting-runtime/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeout is how long, in milliseconds, a connection waits for another
// process's lock before giving up.
const busyTimeout = "10000"

// readers is how many read-only connections run at once.
const readers = 4

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	w *sql.DB // one connection, BEGIN IMMEDIATE: every write
	r *sql.DB // read-only connections
	// casts, signIns and finishes commit the casts, the sign-in steps and the
	// delivery outcomes in groups (castgroup.go).
	casts, signIns, finishes writeGroup
	// Clock is the ballot box's clock, which casts and the close compare with
	// the recorded schedule (time.Now when nil). Set it, if at all, before use.
	Clock func() time.Time
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it if needed) the SQLite database at path and checks that
// it is in WAL mode. It does not migrate: call Migrate.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("embedded: %q is not a usable database file name", path)
	}
	// secure_delete: erased content (a sent message's sealed bytes) is overwritten
	// with zeros, not left in the file's free space.
	common := "?_busy_timeout=" + busyTimeout + "&_foreign_keys=1&_synchronous=FULL&_pragma=secure_delete(1)"
	w, err := sql.Open("sqlite", path+common+"&_journal_mode=WAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	w.SetMaxOpenConns(1)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		w.Close()
		if err == nil {
			err = fmt.Errorf("journal mode is %q, not wal", mode)
		}
		return nil, fmt.Errorf("embedded: opening %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	r.SetMaxOpenConns(readers)
	s := &Store{w: w, r: r}
	s.casts.init(s)
	s.signIns.init(s)
	s.finishes.init(s)
	return s, nil
}

// Close closes the database (SQLite checkpoints the WAL when the last connection
// closes).
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Migrate applies the embedded migrations not yet recorded in schema_migrations,
// in one BEGIN IMMEDIATE transaction: processes migrating at once take turns.
func (s *Store) Migrate(ctx context.Context) error {
	return s.write(ctx, "migrate", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER NOT NULL PRIMARY KEY,
			applied_at INTEGER NOT NULL DEFAULT (unixepoch()))`); err != nil {
			return err
		}
		applied := func(v int) (done bool, err error) {
			err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", v).Scan(&done)
			return done, err
		}
		return store.ApplyMigrations(migrations, applied, func(m store.Migration) error {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version) VALUES (?)", m.Version)
			return err
		})
	})
}

// BallotColumns lists the columns of the ballots table, sorted, so that tests can
// check that nothing there identifies a voter or the order of arrival.
func (s *Store) BallotColumns(ctx context.Context) ([]string, error) {
	var cols []string
	err := s.query(ctx, "SELECT name FROM pragma_table_info('ballots') ORDER BY name", nil, func(rows *sql.Rows) error {
		var c string
		err := rows.Scan(&c)
		cols = append(cols, c)
		return err
	})
	return cols, wrap("ballot columns", err)
}

// write runs f in a BEGIN IMMEDIATE transaction on the writer connection and
// commits it; op names the operation in errors.
func (s *Store) write(ctx context.Context, op string, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return wrap(op, err)
	}
	return wrap(op, tx.Commit())
}

// query runs a read-only query on the readers and calls scan for each row.
func (s *Store) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// wrap prefixes err with the operation, leaving nil and the store's sentinel
// errors unchanged.
func wrap(op string, err error) error {
	if err == nil || store.IsSentinel(err) || errors.Is(err, errTrackerTaken) {
		return err
	}
	return fmt.Errorf("embedded: %s: %w", op, err)
}
