package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// srv is the package's PostgreSQL server; each test works in its own database.
var srv *pgtest.Server

func TestMain(m *testing.M) {
	if os.Getenv(storetest.ImporterEnv) != "" || os.Getenv(storetest.VerifiableCasterEnv) != "" {
		os.Exit(m.Run()) // a helper process, on its parent's server
	}
	s, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

// newDatabase creates an empty database on server, dropped when t ends, and
// returns a superuser DSN for it.
func newDatabase(t testing.TB, server *pgtest.Server) string {
	t.Helper()
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, server.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	name := "t_" + rand.Text()[:16]
	name = strings.ToLower(name)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, server.AdminDSN()); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	cfg, err := pgconn.ParseConfig(server.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	return server.DSN(name, pgtest.SuperUser, cfg.Password)
}

// testStore is a Store that can open its database again, for the suite.
type testStore struct {
	*Store
	dsn string
}

func (ts testStore) Reopen(t *testing.T) store.Store { return openDSN(t, ts.dsn) }

// Dump is pg_dumpall's output (every database of the test server).
func (ts testStore) Dump(t *testing.T) []byte {
	t.Helper()
	out, err := srv.DumpAll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openDSN(t *testing.T, dsn string) testStore {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return testStore{s, dsn}
}

// openMigrated opens a new database, migrated, with a roll of n voters v0….
func openMigrated(t *testing.T, dsn string, n int) (testStore, []string) {
	t.Helper()
	s := openDSN(t, dsn)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	vs := make([]store.Voter, n)
	for i := range vs {
		ids[i] = fmt.Sprintf("v%04d", i)
		vs[i] = store.Voter{ID: ids[i], Name: "V", Weight: 1}
	}
	if _, err := s.ImportRoll(t.Context(), "d", storetest.Entries(vs)); err != nil {
		t.Fatal(err)
	}
	storetest.OpenBox(t, s)
	return s, ids
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openDSN(t, newDatabase(t, srv)) })
}

// TestCastFromTwoPools casts 1,000 times for one voter from two Stores (two
// processes' pools) on one database: exactly one ballot gets in.
func TestCastFromTwoPools(t *testing.T) {
	dsn := newDatabase(t, srv)
	a, ids := openMigrated(t, dsn, 1)
	b := openDSN(t, dsn)
	const n = 1000
	var ok, already atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			err := s.Cast(t.Context(), ids[0], store.Ballot{Payload: []byte("p"), Weight: 1, Tracker: fmt.Sprint(i)})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrAlreadyVoted):
				already.Add(1)
			default:
				t.Errorf("Cast: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || already.Load() != n-1 {
		t.Errorf("%d successes, %d ErrAlreadyVoted; want 1, %d", ok.Load(), already.Load(), n-1)
	}
	for _, s := range []testStore{a, b} {
		if bs, err := s.Ballots(t.Context()); err != nil || len(bs) != 1 {
			t.Errorf("%d ballots (%v), want 1", len(bs), err)
		}
	}
}

// TestAcknowledgedCastsSurviveCrash casts for 200 voters while the server
// crashes (immediate stop) then restarts: every Cast that returned nil is in the
// box, and no voter has two ballots. The database's default is
// synchronous_commit = off, so only the store's own setting keeps acknowledged
// casts durable.
func TestAcknowledgedCastsSurviveCrash(t *testing.T) {
	server := pgtest.ForTest(t)
	dsn := newDatabase(t, server)
	admin, err := pgx.Connect(t.Context(), server.AdminDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := pgconn.ParseConfig(dsn)
	if _, err := admin.Exec(t.Context(), "ALTER DATABASE "+cfg.Database+" SET synchronous_commit = off"); err != nil {
		t.Fatal(err)
	}
	admin.Close(t.Context())
	s, ids := openMigrated(t, dsn, 200)

	const crashAfter = 50
	var (
		mu      sync.Mutex
		acked   = map[string]string{} // voter id: tracker
		crashed = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
	)
	crash := func() {
		once.Do(func() {
			if err := server.StopImmediate(); err != nil {
				t.Errorf("StopImmediate: %v", err)
			}
			close(crashed)
		})
	}
	for i, id := range ids {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 2 * time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			tracker := "t-" + hex.EncodeToString([]byte(id))
			if err := s.Cast(ctx, id, store.Ballot{Payload: []byte(id), Weight: 1, Tracker: tracker}); err != nil {
				return
			}
			mu.Lock()
			acked[id] = tracker
			n := len(acked)
			mu.Unlock()
			if n == crashAfter {
				go crash()
			}
		})
	}
	wg.Wait()
	crash() // if every Cast returned before the crash
	<-crashed
	if err := server.StartAgain(t.Context()); err != nil {
		t.Fatal(err)
	}

	after := openDSN(t, dsn)
	ps, err := after.Participation(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := after.Ballots(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	voted := 0
	for _, p := range ps {
		if p.Voted {
			voted++
		} else if _, ok := acked[p.Voter.ID]; ok {
			t.Errorf("%s's Cast returned nil but the voter is not marked as having voted", p.Voter.ID)
		}
	}
	inBox := map[string]bool{}
	for _, b := range bs {
		inBox[b.Tracker] = true
	}
	for id, tr := range acked {
		if !inBox[tr] {
			t.Errorf("%s's Cast returned nil but its ballot is not in the box", id)
		}
	}
	if len(bs) != voted {
		t.Errorf("%d ballots for %d voters who voted", len(bs), voted)
	}
	t.Logf("%d casts acknowledged, %d landed, %d failed around the crash", len(acked), voted, len(ids)-len(acked))
}

// TestSynchronousCommitForced: a database (or role) default of
// synchronous_commit = off does not reach the store's sessions.
func TestSynchronousCommitForced(t *testing.T) {
	dsn := newDatabase(t, srv)
	cfg, _ := pgconn.ParseConfig(dsn)
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(t.Context(), "ALTER DATABASE "+cfg.Database+" SET synchronous_commit = off"); err != nil {
		t.Fatal(err)
	}
	c.Close(t.Context())
	s := openDSN(t, dsn)
	var got string
	if err := s.pool.QueryRow(t.Context(), "SHOW synchronous_commit").Scan(&got); err != nil || got != "on" {
		t.Errorf("synchronous_commit = %q, %v; want on", got, err)
	}
}

// TestPoolFollowsThePodsCPUs: without pool_max_conns in the DSN, the pool holds
// max(4, GOMAXPROCS) connections, GOMAXPROCS being the pod's CPU limit, not the
// node's CPU count (pgx's default); the DSN's setting wins.
func TestPoolFollowsThePodsCPUs(t *testing.T) {
	dsn := newDatabase(t, srv)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for procs, want := range map[int]int32{1: 4, 6: 6} {
		runtime.GOMAXPROCS(procs)
		if got := openDSN(t, dsn).pool.Config().MaxConns; got != want {
			t.Errorf("GOMAXPROCS %d: %d connections, want %d", procs, got, want)
		}
	}
	if got := openDSN(t, dsn+" pool_max_conns=3").pool.Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 in the DSN: %d connections", got)
	}
}

// TestOpenErrorsHideThePassword: neither a bad DSN nor a refused login puts the
// password in the error.
func TestOpenErrorsHideThePassword(t *testing.T) {
	const pw = "hunter2-very-secret"
	for _, dsn := range []string{
		srv.DSN("postgres", pgtest.SuperUser, pw),                    // wrong password
		"host=127.0.0.1 port=notaport password=" + pw,                // unparsable
		"postgres://postgres:" + pw + "@127.0.0.1:notaport/postgres", // unparsable URL
		"host=127.0.0.1 password='" + pw + " dbname=x",               // unterminated quote
	} {
		s, err := Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open succeeded")
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestSealErasesTransactionLinks: before sealing, each ballot shares its transaction
// id (xmin) with its voter's participation row; after, none does.
func TestSealErasesTransactionLinks(t *testing.T) {
	ctx := t.Context()
	s, ids := openMigrated(t, newDatabase(t, srv), 10)
	for i, id := range ids {
		if err := s.Cast(ctx, id, store.Ballot{Payload: []byte("{}"), Weight: 1, Tracker: fmt.Sprintf("t%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	linked := func() int {
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM ballots b JOIN participation p ON b.xmin::text = p.xmin::text").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := linked(); n != 10 {
		t.Fatalf("before sealing, %d ballots share a transaction with a participation row; the test assumes 10", n)
	}
	if err := s.SealBallots(ctx); err != nil {
		t.Fatal(err)
	}
	if n := linked(); n != 0 {
		t.Errorf("after sealing, %d ballots still share a transaction with a participation row", n)
	}
}
