// Package pgtest starts a throwaway PostgreSQL server for tests.
//
// It runs the real PostgreSQL binaries (Debian's postgresql package, by
// default from /usr/lib/postgresql/15/bin, overridable with the PG_BIN
// environment variable) on a fresh data directory in a temporary directory,
// listening on 127.0.0.1 only, on a free TCP port, with a random superuser
// password. When the test process runs as root, PostgreSQL (which refuses to
// run as root) is run as the "postgres" system user.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultBinDir is where the PostgreSQL binaries are looked for when the
// PG_BIN environment variable is not set.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// SuperUser is the name of the superuser created by Start.
const SuperUser = "postgres"

// readyTimeout bounds how long Start and StartAgain wait for the server.
const readyTimeout = 30 * time.Second

// Options tunes the server. The zero value is the default: durable
// (fsync on), no statement logging.
type Options struct {
	// NoFsync turns fsync off. Faster, but committed data may be lost if
	// the machine (not just PostgreSQL) crashes. Off by default.
	NoFsync bool
	// LogStatement sets log_statement ("none", "ddl", "mod" or "all").
	// Empty means the server default ("none").
	LogStatement string
	// ListenAddresses are more addresses to listen on than 127.0.0.1 (such as the
	// host's side of a local cluster's network).
	ListenAddresses []string
	// AllowNetworks are CIDRs from which clients may connect (with a password,
	// SCRAM), beyond the loopback.
	AllowNetworks []string
	// SharedPreloadLibraries are loaded at the server's start (such as
	// pg_stat_statements, which counts the statements each database runs).
	SharedPreloadLibraries []string
}

// Server is a running (or stopped) throwaway PostgreSQL server.
type Server struct {
	bin      string
	dir      string // temporary directory, removed by Stop
	dataDir  string
	logFile  string
	password string
	port     int
	cred     *syscall.Credential // nil when not running as root

	mu      sync.Mutex
	removed bool
}

// Start creates a fresh cluster in a new temporary directory and starts
// PostgreSQL on it. At most one Options may be given. The caller must call
// Stop.
func Start(ctx context.Context, opts ...Options) (*Server, error) {
	if len(opts) > 1 {
		return nil, errors.New("pgtest: at most one Options")
	}
	var o Options
	if len(opts) == 1 {
		o = opts[0]
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{
		bin:      bin,
		dir:      dir,
		dataDir:  filepath.Join(dir, "data"),
		logFile:  filepath.Join(dir, "postgres.log"),
		password: randomHex(24),
	}
	if err := s.setup(ctx, o); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// ForTest starts a server for t, stops it (removing its files) when the test
// ends, and fails the test if it cannot start.
func ForTest(t testing.TB, opts ...Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

func (s *Server) setup(ctx context.Context, o Options) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pgtest: running as root, PostgreSQL must run as the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(s.dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}

	// initdb reads the superuser password from a file, removed right after.
	pwFile := filepath.Join(s.dir, "pwfile")
	if err := os.WriteFile(pwFile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if s.cred != nil {
		if err := os.Chown(pwFile, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	args := []string{"-D", s.dataDir, "-U", SuperUser, "--pwfile=" + pwFile,
		"--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"}
	if o.NoFsync {
		args = append(args, "--no-sync")
	}
	_, err := s.run(ctx, "initdb", append(args, "--locale=C.UTF-8")...)
	if err != nil {
		// Some systems lack the C.UTF-8 locale.
		_ = os.RemoveAll(s.dataDir)
		_, err = s.run(ctx, "initdb", append(args, "--locale=C")...)
	}
	_ = os.Remove(pwFile)
	if err != nil {
		return err
	}

	fsync := "on"
	if o.NoFsync {
		fsync = "off"
	}
	conf := fmt.Sprintf(`
# Added by pgtest.
listen_addresses = '%s'
unix_socket_directories = '%s'
fsync = %s
synchronous_commit = on
max_connections = 200
shared_buffers = 64MB
logging_collector = off
`, strings.Join(append([]string{"127.0.0.1"}, o.ListenAddresses...), ","), s.dir, fsync)
	if o.LogStatement != "" {
		conf += fmt.Sprintf("log_statement = '%s'\n", o.LogStatement)
	}
	if len(o.SharedPreloadLibraries) > 0 {
		conf += fmt.Sprintf("shared_preload_libraries = '%s'\n", strings.Join(o.SharedPreloadLibraries, ","))
	}
	f, err := os.OpenFile(filepath.Join(s.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	_, err = f.WriteString(conf)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}

	if len(o.AllowNetworks) > 0 {
		var hba strings.Builder
		hba.WriteString("\n# Added by pgtest.\n")
		for _, cidr := range o.AllowNetworks {
			fmt.Fprintf(&hba, "host all all %s scram-sha-256\n", cidr)
		}
		f, err := os.OpenFile(filepath.Join(s.dataDir, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		_, err = f.WriteString(hba.String())
		if err2 := f.Close(); err == nil {
			err = err2
		}
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}

	// Another process may grab the free port between freePort and the
	// server's bind: try a few ports.
	for attempt := 0; ; attempt++ {
		if s.port, err = pickPort(); err != nil {
			return err
		}
		err = s.start(ctx)
		if err == nil || attempt == 4 || !strings.Contains(s.logTail(), "could not bind") {
			return err
		}
	}
}

// AdminDSN returns a keyword/value connection string for the superuser on
// the "postgres" database.
func (s *Server) AdminDSN() string {
	return s.DSN("postgres", SuperUser, s.password)
}

// AdminDSNAt is AdminDSN reaching the server at host (one of its ListenAddresses).
func (s *Server) AdminDSNAt(host string) string {
	return strings.Replace(s.AdminDSN(), "host=127.0.0.1 ", "host="+host+" ", 1)
}

// AdminURLAt is the superuser's connection as a postgres:// URL reaching the
// server at host, on the "postgres" database.
func (s *Server) AdminURLAt(host string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(SuperUser, s.password), Host: net.JoinHostPort(host, strconv.Itoa(s.port)),
		Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String()
}

// DSN returns a keyword/value connection string for user on database db.
func (s *Server) DSN(db, user, password string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=%s password=%s sslmode=disable",
		s.port, quote(db), quote(user), quote(password))
}

// Port returns the TCP port the server listens on (on 127.0.0.1).
func (s *Server) Port() int { return s.port }

// LogFile returns the path of the server's log file.
func (s *Server) LogFile() string { return s.logFile }

// Stop shuts the server down (fast mode) and removes its temporary
// directory. It may be called more than once.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return nil
	}
	var errs []error
	if s.running() {
		if _, err := s.run(context.Background(), "pg_ctl", "stop", "-D", s.dataDir, "-m", "fast", "-w", "-t", "30"); err != nil {
			errs = append(errs, err)
			// Do not leave a server running on a deleted directory.
			_, _ = s.run(context.Background(), "pg_ctl", "stop", "-D", s.dataDir, "-m", "immediate", "-w")
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgtest: %w", err))
	}
	s.removed = true
	return errors.Join(errs...)
}

// StopImmediate stops the server in immediate mode, as if it had crashed:
// the next start runs crash recovery. The data directory is kept.
func (s *Server) StopImmediate() error {
	_, err := s.run(context.Background(), "pg_ctl", "stop", "-D", s.dataDir, "-m", "immediate", "-w", "-t", "30")
	return err
}

// StartAgain starts a stopped server on the same data directory and port,
// and waits until it accepts connections.
func (s *Server) StartAgain(ctx context.Context) error {
	return s.start(ctx)
}

// start runs pg_ctl start then waits until a connection succeeds.
func (s *Server) start(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := s.run(ctx, "pg_ctl", "start", "-D", s.dataDir, "-l", s.logFile,
		"-o", "-p "+strconv.Itoa(s.port), "-w", "-t", strconv.Itoa(int(readyTimeout/time.Second))); err != nil {
		return fmt.Errorf("%w\nserver log:\n%s", err, s.logTail())
	}
	var err error
	for {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(ctx, s.AdminDSN()); err == nil {
			err = conn.Ping(ctx)
			_ = conn.Close(context.Background())
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: server on port %d not ready: %w", s.port, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// running reports whether a postmaster.pid file exists.
func (s *Server) running() bool {
	_, err := os.Stat(filepath.Join(s.dataDir, "postmaster.pid"))
	return err == nil
}

// run runs a PostgreSQL program as the postgres user when root.
func (s *Server) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...)
	cmd.Dir = s.dir // must be readable by the postgres user
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pgtest: %s %s: %w\n%s", prog, strings.Join(args, " "), err, out)
	}
	return out, nil
}

// logTail returns the end of the server log, for error messages.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logFile)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// binDir finds the PostgreSQL binaries.
func binDir() (string, error) {
	dir := os.Getenv("PG_BIN")
	if dir == "" {
		dir = DefaultBinDir
	}
	for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, prog)); err != nil {
			return "", fmt.Errorf("pgtest: PostgreSQL binaries not found in %s (%v): install Debian's postgresql package (apt-get install postgresql) or set PG_BIN to the directory holding initdb, pg_ctl and postgres", dir, err)
		}
	}
	return dir, nil
}

// pickPort is freePort, replaced by tests.
var pickPort = freePort

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// quote quotes a value for a keyword/value connection string.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// CreateDatabase creates database name (owned by the superuser) and returns the
// superuser's connection string for it.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: creating database %s: %w", name, err)
	}
	return s.DSN(name, SuperUser, s.password), nil
}

// DumpAll is pg_dumpall of the whole server (every database, roles included), as
// text, for leak scans.
func (s *Server) DumpAll(ctx context.Context) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "pg_dumpall"), "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", SuperUser)
	// pg_dumpall hands the connection to a pg_dump per database: only the
	// environment reaches them all
	cmd.Env = append(os.Environ(), "PGPASSWORD="+s.password)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pgtest: pg_dumpall: %v: %s", err, stderr.String())
	}
	return out, nil
}
