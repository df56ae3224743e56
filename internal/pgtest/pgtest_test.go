package pgtest

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartCrashRestartStop(t *testing.T) {
	ctx := t.Context()
	s, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "on" {
		t.Errorf("fsync = %q, %v; want on by default", fsync, err)
	}
	var enc, collate string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_encoding'), datcollate FROM pg_database WHERE datname = 'postgres'").Scan(&enc, &collate); err != nil || enc != "UTF8" {
		t.Errorf("server_encoding = %q, %v", enc, err)
	}
	t.Logf("locale %s", collate)
	var addr string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&addr); err != nil || addr != "127.0.0.1" {
		t.Errorf("listen_addresses = %q, %v", addr, err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('committed')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A wrong password is refused: authentication is really on.
	if c, err := pgx.Connect(ctx, s.DSN("postgres", SuperUser, "wrong")); err == nil {
		c.Close(ctx)
		t.Error("connected with a wrong password")
	}

	if err := s.StopImmediate(); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, s.AdminDSN()); err == nil {
		c.Close(ctx)
		t.Fatal("connected after StopImmediate")
	}
	if err := s.StartAgain(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT v FROM t").Scan(&v); err != nil || v != "committed" {
		t.Errorf("after crash and restart: v = %q, %v", v, err)
	}
	conn.Close(ctx)

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s still there after Stop: %v", s.dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestForTestOptions(t *testing.T) {
	s := ForTest(t, Options{NoFsync: true, LogStatement: "all"})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var fsync, logStatement string
	if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('log_statement')").Scan(&fsync, &logStatement); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" || logStatement != "all" {
		t.Errorf("fsync=%q log_statement=%q", fsync, logStatement)
	}
	if _, err := conn.Exec(ctx, "SELECT 'marker-1234'"); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(s.LogFile())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "marker-1234") {
		t.Errorf("statement not in log %s", s.LogFile())
	}

	// DSN quotes its values.
	const pw = `it's a \ pass word`
	if _, err := conn.Exec(ctx, `CREATE ROLE "odd user" LOGIN PASSWORD 'it''s a \ pass word'`); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, s.DSN("postgres", "odd user", pw))
	if err != nil {
		t.Fatalf("DSN with quotes and backslashes: %v", err)
	}
	c.Close(ctx)

	// The cleanup's Stop must also work after a crash.
	if err := s.StopImmediate(); err != nil {
		t.Fatal(err)
	}
}

// Start retries when another process takes the chosen port first.
func TestPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return taken.Addr().(*net.TCPAddr).Port, nil
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()
	s := ForTest(t)
	if calls != 2 || s.Port() == taken.Addr().(*net.TCPAddr).Port {
		t.Errorf("calls = %d, port = %d", calls, s.Port())
	}
}

func TestMissingBinaries(t *testing.T) {
	t.Setenv("PG_BIN", t.TempDir())
	_, err := Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "postgresql package") {
		t.Fatalf("err = %v; want a hint to install the postgresql package", err)
	}
}

// TestListenAndAllow: a server may listen beyond 127.0.0.1 and admit clients of
// the networks named; a client from elsewhere gets no pg_hba entry.
func TestListenAndAllow(t *testing.T) {
	// clients connect from 127.0.0.3: the kernel would otherwise pick 127.0.0.1,
	// which the server always admits
	from := func(dsn string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
		cfg.DialFunc = d.DialContext
		return pgx.ConnectConfig(t.Context(), cfg)
	}
	open := ForTest(t, Options{ListenAddresses: []string{"127.0.0.2"}, AllowNetworks: []string{"127.0.0.3/32"}})
	conn, err := from(open.AdminDSNAt("127.0.0.2"))
	if err != nil {
		t.Fatalf("connecting from an allowed network: %v", err)
	}
	conn.Close(t.Context())

	closed := ForTest(t, Options{ListenAddresses: []string{"127.0.0.2"}})
	if conn, err := from(closed.AdminDSNAt("127.0.0.2")); err == nil {
		conn.Close(t.Context())
		t.Fatal("a client of a network not allowed connected")
	} else if !strings.Contains(err.Error(), "pg_hba.conf") {
		t.Fatalf("refused, but not by pg_hba.conf: %v", err)
	}
}

// TestDumpAll: the dump holds every database's data.
func TestDumpAll(t *testing.T) {
	s := ForTest(t)
	conn, err := pgx.Connect(t.Context(), s.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "CREATE TABLE marks (v text); INSERT INTO marks VALUES ('a-mark-to-find')"); err != nil {
		t.Fatal(err)
	}
	dump, err := s.DumpAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dump), "a-mark-to-find") {
		t.Fatal("the dump does not hold the data")
	}
}
