// Package postgres is the voting-runtime's store on PostgreSQL, for several pods
// sharing one database. It implements store.Store with the guarantees that
// package documents.
//
// Every session sets synchronous_commit = on, so a committed Cast is on disk (and
// on any synchronous standby) before it returns, whatever the server or role
// default says. Errors never carry the DSN's password, a credential or code hash,
// nor a ballot payload.
//
// What the schema cannot hide: PostgreSQL itself records the order of arrival
// (heap and WAL order), and a ballot row carries the same xmin as its voter's
// participation row, since one transaction writes both. Someone with superuser or
// file access can therefore link them; secrecy against the database's operator
// rests on encrypting the payload, not on this schema.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"scrutin.dev/scrutin/voting-runtime/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key Migrate holds ("SCRUTIN" then 1).
const migrationLock int64 = 0x53435255_54494e01

// Store is the PostgreSQL store. It is safe for concurrent use, and several Stores
// (in several processes) may share one database.
type Store struct {
	pool *pgxpool.Pool
	// casts commits concurrent casts together (castgroup.go); castStatements
	// counts the group statements run (tests read it)
	casts          store.Group[*castRequest]
	castStatements atomic.Int64
	// trips counts the round trips to the server (trips.go)
	trips *roundTrips
	// finishes records delivery outcomes together (outbox.go)
	finishes store.Group[*finishRequest]
}

var _ store.Store = (*Store)(nil)

// Open connects to the database dsn names (a keyword/value string or a URL, with
// pgxpool's pool_* settings if wanted) and checks that it answers. It does not
// migrate: call Migrate.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN, redacting the password only on a best
		// effort basis: say nothing of it.
		return nil, errors.New("postgres: the DSN cannot be parsed")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgx's default follows the node's CPUs; a pod's connections multiply by its
		// replicas on the tenant's server, so follow the pod's CPU limit instead
		// (GOMAXPROCS, which Go sets from the container's cgroup)
		cfg.MaxConns = int32(max(4, runtime.GOMAXPROCS(0)))
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// Acknowledged means durable, even if the server, database or role
		// says otherwise. And read committed, whatever the database's default: the
		// single-statement writes (Cast, the close, the schedule) order themselves
		// by row locks and must wait for each other, never fail with 40001.
		if _, err := c.Exec(ctx, "SET synchronous_commit = on"); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "SET default_transaction_isolation = 'read committed'")
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool, trips: trips}
	s.casts = store.Group[*castRequest]{Max: maxCastGroup, Key: func(r *castRequest) string { return r.voterID }, Commit: s.commitCasts}
	s.finishes = store.Group[*finishRequest]{Max: maxFinishGroup, Key: func(r *finishRequest) string { return strconv.FormatInt(r.id, 10) },
		Commit: s.commitFinishes}
	return s, nil
}

// Close closes every connection.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Migrate applies the embedded migrations not yet recorded in schema_migrations,
// all in one transaction holding an advisory lock: pods starting at once wait for
// each other, and the last ones find nothing to do.
func (s *Store) Migrate(ctx context.Context) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, "SELECT version FROM schema_migrations")
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		done := map[int]bool{}
		for _, v := range applied {
			done[v] = true
		}
		return store.ApplyMigrations(migrations, func(v int) (bool, error) { return done[v], nil },
			func(m store.Migration) error {
				if _, err := tx.Exec(ctx, m.SQL); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.Version)
				return err
			})
	}, "migrate")
}

// BallotColumns lists the columns of the ballots table, sorted, so that tests can
// check that nothing there identifies a voter or the order of arrival.
func (s *Store) BallotColumns(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'ballots' ORDER BY 1`)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: ballot columns: %w", err)
	}
	return cols, nil
}

// inTx runs f in a read-committed transaction and commits it; op names the
// operation in errors. Errors that are store sentinels are returned as they are.
// Every transaction of this store orders its writers with row locks (SELECT … FOR
// UPDATE, ON CONFLICT, LOCK TABLE) and expects to wait for them, not to fail: the
// isolation is set explicitly, so that a tenant database whose
// default_transaction_isolation is serializable or repeatable read does not turn
// concurrent sign-ins, casts or the close into serialization failures (40001).
func (s *Store) inTx(ctx context.Context, f func(pgx.Tx) error, op string) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, f)
	return wrap(op, err)
}

// wrap prefixes err with the operation, leaving nil and the store's sentinel
// errors unchanged.
func wrap(op string, err error) error {
	if err == nil || store.IsSentinel(err) || errors.Is(err, errTrackerTaken) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// pgCode is the SQLSTATE of err and the constraint it names, if err comes from
// the server.
func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}
