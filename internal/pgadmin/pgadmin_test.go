package pgadmin

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scrutin.dev/scrutin/internal/pgtest"
)

// The server is shared by the tests of this file; each uses its own names.
var (
	serverOnce sync.Once
	server     *pgtest.Server
	serverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		if err := server.Stop(); err != nil {
			println(err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// sharedServer starts, once, a server logging every statement.
func sharedServer(t *testing.T) *pgtest.Server {
	t.Helper()
	serverOnce.Do(func() {
		server, serverErr = pgtest.Start(context.Background(), pgtest.Options{LogStatement: "all"})
	})
	if serverErr != nil {
		t.Fatal(serverErr)
	}
	return server
}

// fresh drops what a previous run (go test -count=N) left on the shared
// server.
func fresh(t *testing.T, s *pgtest.Server, dbs ...Database) {
	t.Helper()
	for _, db := range dbs {
		if err := Drop(t.Context(), s.AdminDSN(), db); err != nil {
			t.Fatal(err)
		}
	}
}

func connectAs(ctx context.Context, s *pgtest.Server, db, user, password string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, s.DSN(db, user, password))
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func TestProvisionIdempotentAndPasswordChange(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	db := Database{Name: "election_a", Role: "election_a_owner"}
	const pw1, pw2 = "first-Secret-9f8e7d6c", "second-Secret-1a2b3c4d"
	fresh(t, s, db)

	if err := Provision(ctx, s.AdminDSN(), db, pw1); err != nil {
		t.Fatal(err)
	}
	conn, err := connectAs(ctx, s, db.Name, db.Role, pw1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE ballots (id int PRIMARY KEY); INSERT INTO ballots VALUES (1)"); err != nil {
		t.Fatalf("role cannot create a table in its database: %v", err)
	}
	conn.Close(ctx)

	if err := Provision(ctx, s.AdminDSN(), db, pw2); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	if c, err := connectAs(ctx, s, db.Name, db.Role, pw1); err == nil {
		c.Close(ctx)
		t.Error("old password still accepted")
	} else if sqlState(err) != "28P01" { // invalid_password
		t.Errorf("old password: %v; want SQLSTATE 28P01", err)
	}
	conn, err = connectAs(ctx, s, db.Name, db.Role, pw2)
	if err != nil {
		t.Fatalf("new password refused: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM ballots").Scan(&n); err != nil || n != 1 {
		t.Errorf("data after second Provision: n=%d, %v", n, err)
	}

	// Attributes and ownership.
	admin, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var super, createDB, createRole, inherit, login bool
	var limit int
	var owner, schemaOwner, stored string
	if err := admin.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolcanlogin, rolconnlimit, rolpassword
		FROM pg_authid WHERE rolname = $1`, db.Role).Scan(&super, &createDB, &createRole, &inherit, &login, &limit, &stored); err != nil {
		t.Fatal(err)
	}
	if super || createDB || createRole || inherit || !login || limit != ConnectionLimit {
		t.Errorf("role attributes: super=%v createdb=%v createrole=%v inherit=%v login=%v limit=%d",
			super, createDB, createRole, inherit, login, limit)
	}
	if !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") {
		t.Errorf("stored password %q is not a SCRAM-SHA-256 verifier", stored)
	}
	if err := admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", db.Name).Scan(&owner); err != nil || owner != db.Role {
		t.Errorf("database owner = %q, %v", owner, err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'").Scan(&schemaOwner); err != nil || schemaOwner != db.Role {
		t.Errorf("schema public owner = %q, %v", schemaOwner, err)
	}
}

func TestIsolationBetweenElections(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	a := Database{Name: "iso_a", Role: "iso_a_owner"}
	b := Database{Name: "iso_b", Role: "iso_b_owner"}
	fresh(t, s, a, b)
	for _, db := range []Database{a, b} {
		if err := Provision(ctx, s.AdminDSN(), db, "pw-"+db.Name); err != nil {
			t.Fatal(err)
		}
	}
	// A role of election A cannot connect to election B's database.
	if c, err := connectAs(ctx, s, b.Name, a.Role, "pw-"+a.Name); err == nil {
		c.Close(ctx)
		t.Error("role A connected to database B")
	} else if sqlState(err) != "42501" { // insufficient_privilege
		t.Errorf("role A on database B: %v; want permission denied (42501)", err)
	}

	// Nor can a plain login role with no grant.
	admin, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS stranger; CREATE ROLE stranger LOGIN PASSWORD 'stranger-pw'"); err != nil {
		t.Fatal(err)
	}
	if c, err := connectAs(ctx, s, a.Name, "stranger", "stranger-pw"); err == nil {
		c.Close(ctx)
		t.Error("a role without grant connected to database A")
	} else if sqlState(err) != "42501" {
		t.Errorf("stranger on database A: %v; want permission denied (42501)", err)
	}
}

func TestDrop(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	db := Database{Name: "drop_me", Role: "drop_me_owner"}
	fresh(t, s, db)
	if err := Provision(ctx, s.AdminDSN(), db, "drop-pw"); err != nil {
		t.Fatal(err)
	}
	// An open session of the role must not prevent Drop.
	open, err := connectAs(ctx, s, db.Name, db.Role, "drop-pw")
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)

	for i := range 2 { // idempotent
		if err := Drop(ctx, s.AdminDSN(), db); err != nil {
			t.Fatalf("Drop #%d: %v", i+1, err)
		}
	}
	admin, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var dbs, roles int
	if err := admin.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1),
		(SELECT count(*) FROM pg_roles WHERE rolname = $2)`, db.Name, db.Role).Scan(&dbs, &roles); err != nil {
		t.Fatal(err)
	}
	if dbs != 0 || roles != 0 {
		t.Errorf("after Drop: %d databases, %d roles", dbs, roles)
	}
	// Provision works again after Drop, here with a postgres:// URL as the
	// controller's tenants give.
	cfg, err := pgx.ParseConfig(s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	adminURL := (&url.URL{Scheme: "postgres", User: url.UserPassword(cfg.User, cfg.Password),
		Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	if err := Provision(ctx, adminURL, db, "drop-pw"); err != nil {
		t.Fatal(err)
	}
	if err := Drop(ctx, adminURL, db); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentProvision(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	db := Database{Name: "concurrent", Role: "concurrent_owner"}
	fresh(t, s, db)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = Provision(ctx, s.AdminDSN(), db, "same-pw") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Provision #%d: %v", i, err)
		}
	}
	c, err := connectAs(ctx, s, db.Name, db.Role, "same-pw")
	if err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
}

// Concurrent calls must also be safe without the advisory lock, e.g. from
// controllers using different admin databases: the duplicate errors of
// CREATE ROLE and CREATE DATABASE are ignored.
func TestCreateIgnoresDuplicates(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 2 {
		if err := execIgnoringDuplicate(ctx, conn, "CREATE ROLE dup_role"); err != nil {
			t.Fatal(err)
		}
		if err := execIgnoringDuplicate(ctx, conn, "CREATE DATABASE dup_db"); err != nil {
			t.Fatal(err)
		}
	}
	if err := execIgnoringDuplicate(ctx, conn, "CREATE TABLE"); err == nil {
		t.Error("syntax error ignored")
	}
}

func TestPasswordNeverLeaks(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	const pw = "Leak-Canary-7Qx2Zr9Lm4"
	db := Database{Name: "leak_check", Role: "leak_check_owner"}
	fresh(t, s, db)
	if err := Provision(ctx, s.AdminDSN(), db, pw); err != nil {
		t.Fatal(err)
	}
	if err := Provision(ctx, s.AdminDSN(), db, pw); err != nil {
		t.Fatal(err)
	}
	// An error after the password is known: the admin lacks rights.
	admin, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	const weakPW = "Weak-Admin-Canary-5tGb"
	if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS weak_admin; CREATE ROLE weak_admin LOGIN PASSWORD '"+weakPW+"'"); err != nil {
		t.Fatal(err)
	}
	weakDSN := s.DSN("postgres", "weak_admin", weakPW)
	for _, err := range []error{
		Provision(ctx, weakDSN, Database{Name: "leak_other", Role: "leak_other_owner"}, pw),
		Provision(ctx, s.DSN("postgres", "weak_admin", "wrong-"+weakPW), db, pw),
		Drop(ctx, s.DSN("postgres", "weak_admin", "wrong-"+weakPW), db),
		Drop(ctx, weakDSN, db),
		Provision(ctx, "host=127.0.0.1 port=notaport password="+weakPW, db, pw),
	} {
		if err == nil {
			t.Error("no error")
			continue
		}
		t.Logf("error: %v", err)
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), weakPW) {
			t.Errorf("error reveals a password: %v", err)
		}
	}

	// The server logged every statement (log_statement=all), but never the
	// password.
	log, err := os.ReadFile(s.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "ALTER ROLE \"leak_check_owner\"") {
		t.Fatalf("statements not logged in %s: is log_statement=all on?", s.LogFile())
	}
	if strings.Contains(string(log), pw) {
		t.Errorf("the password appears in the server log %s", s.LogFile())
	}
}

// The verifier computed here is the one PostgreSQL itself computes for the
// same password and salt.
func TestVerifierMatchesServer(t *testing.T) {
	s := sharedServer(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS verifier_check; CREATE ROLE verifier_check PASSWORD 'test-only-pw'"); err != nil {
		t.Fatal(err)
	}
	var stored string
	if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'verifier_check'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	// SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
	rest, ok := strings.CutPrefix(stored, "SCRAM-SHA-256$")
	iterSalt, _, ok2 := strings.Cut(rest, "$")
	iter, salt64, ok3 := strings.Cut(iterSalt, ":")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("unexpected stored password %q", stored)
	}
	iterations, _ := strconv.Atoi(iter)
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scramVerifierWithSalt("test-only-pw", salt, iterations)
	if err != nil || got != stored {
		t.Errorf("verifier = %q, %v; server computed %q", got, err, stored)
	}
	if v, _ := scramVerifier("x"); !strings.HasPrefix(v, "SCRAM-SHA-256$4096:") || len(strings.Split(v, "$")[1]) != len("4096:")+24 {
		t.Errorf("verifier %q: want 4096 iterations and a 16-byte salt", v)
	}
}

func TestUnreachableServer(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	// A server that accepts TCP connections but never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Cleanup, not defer: the parallel subtests run after this function returns.
	t.Cleanup(func() { silent.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	silentPort := silent.Addr().(*net.TCPAddr).Port

	const adminPW = "Admin-Canary-3Hs8"
	db := Database{Name: "unreachable", Role: "unreachable_owner"}
	for _, tc := range []struct {
		name string
		port int
		max  time.Duration
	}{
		{"closed port", closedPort, 2 * time.Second},
		{"silent server", silentPort, ConnectTimeout + 2*time.Second},
	} {
		dsn := "host=127.0.0.1 port=" + strconv.Itoa(tc.port) + " user=postgres password=" + adminPW + " sslmode=disable"
		for _, op := range []struct {
			name string
			f    func() error
		}{
			{"Provision", func() error { return Provision(t.Context(), dsn, db, "election-pw-canary") }},
			{"Drop", func() error { return Drop(t.Context(), dsn, db) }},
		} {
			t.Run(tc.name+"/"+op.name, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				err := op.f()
				elapsed := time.Since(start)
				t.Logf("after %v: %v", elapsed.Round(time.Millisecond), err)
				if err == nil {
					t.Fatal("no error")
				}
				if elapsed > tc.max {
					t.Errorf("took %v, want at most %v", elapsed, tc.max)
				}
				if err.Error() != ConnectErrorText {
					t.Errorf("error is not the fixed connection failure: %v", err)
				}
				if strings.Contains(err.Error(), adminPW) || strings.Contains(err.Error(), "election-pw-canary") {
					t.Errorf("error reveals a password: %v", err)
				}
			})
		}
	}
}

// TestConnectFailureWithholdsRemoteWords: the admin DSN is the tenant's, so the
// manager connects wherever a tenant points it, and the error reaches the
// Election's conditions and events: a port scanner from the manager's network
// position, if it said what answered. A closed port, a server answering with a
// banner of its own and a silent one all give the same fixed text, which holds
// none of the remote's words nor its address; the driver's error stays in Cause,
// for the operator's log.
func TestConnectFailureWithholdsRemoteWords(t *testing.T) {
	closedPort := pgtest.ClosedPort(t)

	// Not PostgreSQL: a server that greets with a banner, answers anything it
	// reads with an HTTP error naming itself, and hangs up.
	const banner = "Banner-Canary-7Qx HTTP/1.1 400 Bad Request\r\nServer: InternalAdmin-Canary/2.4\r\n\r\nInternalAdmin-Canary says no"
	otherPort := pgtest.NotPostgres(t, banner)

	db := Database{Name: "scanned", Role: "scanned_owner"}
	texts := map[string]string{}
	for _, tc := range []struct {
		name string
		port int
	}{{"closed port", closedPort}, {"not PostgreSQL", otherPort}} {
		for _, sslmode := range []string{"disable", "prefer"} {
			dsn := "postgres://postgres:pw@127.0.0.1:" + strconv.Itoa(tc.port) + "/postgres?sslmode=" + sslmode + "&connect_timeout=3"
			for op, f := range map[string]func() error{
				"Provision": func() error { return Provision(t.Context(), dsn, db, "election-pw") },
				"Drop":      func() error { return Drop(t.Context(), dsn, db) },
			} {
				err := f()
				what := tc.name + "/" + sslmode + "/" + op
				var ce *ConnectError
				if !errors.As(err, &ce) || ce.Cause() == nil {
					t.Errorf("%s: %v; want a *ConnectError with the driver's error as its cause", what, err)
					continue
				}
				t.Logf("%s: condition text %q; operator's log: %v", what, err, ce.Cause())
				texts[what] = err.Error()
				for _, word := range []string{"Canary", "Banner", "HTTP", "400", "127.0.0.1", strconv.Itoa(tc.port), "refused", "EOF", "unexpected", "dial", "tls", "TLS"} {
					if strings.Contains(err.Error(), word) {
						t.Errorf("%s: the error shows %q of the remote: %v", what, word, err)
					}
				}
			}
		}
	}
	for what, text := range texts {
		if text != ConnectErrorText {
			t.Errorf("%s: %q; want the one fixed text %q whatever answered", what, text, ConnectErrorText)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, db := range []Database{
		{Name: "", Role: "ok"},
		{Name: "ok", Role: ""},
		{Name: "Upper", Role: "ok"},
		{Name: "1abc", Role: "ok"},
		{Name: "_abc", Role: "ok"},
		{Name: "ok", Role: "with-dash"},
		{Name: `x"; DROP DATABASE postgres; --`, Role: "ok"},
		{Name: "ok", Role: "ok space"},
		{Name: "é", Role: "ok"},
		{Name: long, Role: "ok"},
		{Name: "ok", Role: long},
	} {
		if err := db.Validate(); err == nil {
			t.Errorf("%+v accepted", db)
		}
		// Refused before any connection: the DSN is never used.
		if err := Provision(t.Context(), "host=invalid.invalid", db, "pw"); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("Provision(%+v) = %v", db, err)
		}
		if err := Drop(t.Context(), "host=invalid.invalid", db); err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("Drop(%+v) = %v", db, err)
		}
	}
	if err := (Database{Name: strings.Repeat("a", 63), Role: "a_1_b"}).Validate(); err != nil {
		t.Errorf("valid names refused: %v", err)
	}
	for _, pw := range []string{"", "tab\there", "é"} {
		if err := Provision(t.Context(), "host=invalid.invalid", Database{Name: "ok", Role: "ok"}, pw); err == nil {
			t.Errorf("password %q accepted", pw)
		}
	}
}
