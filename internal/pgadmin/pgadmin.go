// Package pgadmin creates and drops an election's own PostgreSQL database
// and login role, on a server reached through an administrator's DSN.
//
// Passwords never travel in clear in SQL text: the SCRAM-SHA-256 verifier is
// computed here and sent instead, so statement logs cannot reveal them.
// Returned errors never contain the election's password nor the admin DSN's.
package pgadmin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ConnectTimeout bounds each connection attempt to the server.
const ConnectTimeout = 5 * time.Second

// ConnectionLimit is the CONNECTION LIMIT of an election's role.
const ConnectionLimit = 200

// lockClass is the first key of the advisory lock that serializes
// Provision and Drop of one database ("SCRU").
const lockClass = 0x53435255

// Database names an election's database and the role that owns it. Both
// are chosen by the caller.
type Database struct {
	Name string // database name
	Role string // login role owning the database
}

// Validate checks that Name and Role are plain PostgreSQL identifiers:
// lowercase letters, digits and underscores, starting with a letter, at most
// 63 bytes.
func (d Database) Validate() error {
	if err := checkIdentifier(d.Name); err != nil {
		return fmt.Errorf("pgadmin: invalid database name: %w", err)
	}
	if err := checkIdentifier(d.Role); err != nil {
		return fmt.Errorf("pgadmin: invalid role name: %w", err)
	}
	return nil
}

func checkIdentifier(s string) error {
	if s == "" || len(s) > 63 {
		return fmt.Errorf("%q must be 1 to 63 bytes long", s)
	}
	if s[0] < 'a' || s[0] > 'z' {
		return fmt.Errorf("%q must start with a lowercase letter", s)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%q may only hold lowercase letters, digits and underscores", s)
		}
	}
	return nil
}

// checkPassword accepts non-empty printable ASCII passwords. Keeping to
// ASCII means SASLprep (which clients apply) leaves the password unchanged,
// so the verifier computed here matches what every client computes.
func checkPassword(p string) error {
	if p == "" {
		return errors.New("pgadmin: empty password")
	}
	for _, c := range []byte(p) {
		if c < 0x20 || c > 0x7e {
			return errors.New("pgadmin: the password must be printable ASCII")
		}
	}
	return nil
}

// Provision makes sure db exists, owned by its role, and that the role can
// log in with password. It is idempotent: an existing role gets the new
// password (and its attributes reset), an existing database is kept. Only
// the role (and superusers) may connect to the database, and only the role
// may use its public schema. Concurrent calls for the same database are safe.
func Provision(ctx context.Context, adminDSN string, db Database, password string) (err error) {
	if err := db.Validate(); err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	cfg, err := parseDSN(adminDSN)
	if err != nil {
		return err
	}
	defer func() { err = redact(err, password, cfg.Password) }()

	verifier, err := scramVerifier(password)
	if err != nil {
		return fmt.Errorf("pgadmin: computing the password verifier: %w", err)
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := lock(ctx, conn, db); err != nil {
		return err
	}

	role, name := pgx.Identifier{db.Role}.Sanitize(), pgx.Identifier{db.Name}.Sanitize()

	// Role: create it if missing, then (re)set its attributes and password.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", db.Role).Scan(&exists); err != nil {
		return fmt.Errorf("pgadmin: while looking up role %s: %w", db.Role, err)
	}
	if !exists {
		if err := execIgnoringDuplicate(ctx, conn, "CREATE ROLE "+role+" NOLOGIN"); err != nil {
			return fmt.Errorf("pgadmin: while creating role %s: %w", db.Role, err)
		}
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(
		"ALTER ROLE %s WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %d PASSWORD %s",
		role, ConnectionLimit, quoteLiteral(verifier))); err != nil {
		return fmt.Errorf("pgadmin: while setting the password of role %s: %w", db.Role, err)
	}

	// Database: CREATE DATABASE cannot run in a transaction; Exec without
	// arguments sends it alone with the simple protocol, outside any.
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db.Name).Scan(&exists); err != nil {
		return fmt.Errorf("pgadmin: while looking up database %s: %w", db.Name, err)
	}
	if !exists {
		if err := execIgnoringDuplicate(ctx, conn, "CREATE DATABASE "+name+" OWNER "+role); err != nil {
			return fmt.Errorf("pgadmin: while creating database %s: %w", db.Name, err)
		}
	}
	for _, stmt := range []string{
		"ALTER DATABASE " + name + " OWNER TO " + role,
		"REVOKE ALL ON DATABASE " + name + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + name + " TO " + role,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pgadmin: while restricting access to database %s: %w", db.Name, err)
		}
	}

	// Schema public, inside the new database.
	dbCfg := cfg.Copy()
	dbCfg.Database = db.Name
	dbConn, err := connect(ctx, dbCfg)
	if err != nil {
		return err
	}
	defer dbConn.Close(context.Background())
	for _, stmt := range []string{
		"REVOKE ALL ON SCHEMA public FROM PUBLIC",
		"ALTER SCHEMA public OWNER TO " + role,
	} {
		if _, err := dbConn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("pgadmin: while securing schema public of database %s: %w", db.Name, err)
		}
	}
	return nil
}

// Drop removes db and its role, first closing every connection to the
// database and every session of the role. Missing ones are not an error.
func Drop(ctx context.Context, adminDSN string, db Database) (err error) {
	if err := db.Validate(); err != nil {
		return err
	}
	cfg, err := parseDSN(adminDSN)
	if err != nil {
		return err
	}
	defer func() { err = redact(err, cfg.Password) }()

	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := lock(ctx, conn, db); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		 WHERE (datname = $1 OR usename = $2) AND pid <> pg_backend_pid()`, db.Name, db.Role); err != nil {
		return fmt.Errorf("pgadmin: while closing connections to database %s: %w", db.Name, err)
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgadmin: while dropping database %s: %w", db.Name, err)
	}
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{db.Role}.Sanitize()); err != nil {
		return fmt.Errorf("pgadmin: while dropping role %s: %w", db.Role, err)
	}
	return nil
}

// parseDSN parses the admin DSN. Its error never quotes the DSN, which
// holds a password that pgx's best-effort redaction may miss.
func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgadmin: the admin DSN cannot be parsed (details withheld: it holds a password)")
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > ConnectTimeout {
		cfg.ConnectTimeout = ConnectTimeout
	}
	return cfg, nil
}

// ConnectError is every failure to open a session on the server of an admin DSN,
// whatever its cause: a name that does not resolve, a closed or filtered port, a
// server that speaks another protocol or answers with a banner, TLS, a refused
// login. The DSN is the tenant's, so the manager connects wherever a tenant points
// it: its Error is one fixed text, which says nothing of the remote (not even
// whether anything listens there), and which is all that may reach an Election's
// conditions and events. Cause is the driver's error, for the operator's own log
// alone.
type ConnectError struct {
	// Address is the host:port of the DSN, as the tenant wrote it.
	Address string
	cause   error
}

// ConnectErrorText is ConnectError's text.
const ConnectErrorText = "pgadmin: could not connect to the PostgreSQL server of the admin DSN"

func (e *ConnectError) Error() string { return ConnectErrorText }

// Cause is the driver's error, with the remote's words: for the operator's log only.
func (e *ConnectError) Cause() error { return e.cause }

// connect opens a connection, giving up after ConnectTimeout. Any failure is a
// *ConnectError.
func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err == nil {
		return conn, nil
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return nil, &ConnectError{Address: addr, cause: err}
}

// lock takes a session advisory lock serializing Provision and Drop of the
// same database through this server; it is released when conn closes.
func lock(ctx context.Context, conn *pgx.Conn, db Database) error {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext($2))", lockClass, db.Name); err != nil {
		return fmt.Errorf("pgadmin: while locking database %s: %w", db.Name, err)
	}
	return nil
}

// execIgnoringDuplicate runs a CREATE statement, ignoring the errors a
// concurrent creation of the same object raises.
func execIgnoringDuplicate(ctx context.Context, conn *pgx.Conn, stmt string) error {
	_, err := conn.Exec(ctx, stmt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "42710", // duplicate_object
			"42P04", // duplicate_database
			"23505": // unique_violation, on the catalog's name index
			return nil
		}
	}
	return err
}

// quoteLiteral quotes s as a standard SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// redact makes sure no secret appears in err's text. pgx does not put
// passwords in its errors; this is a safety net.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}
