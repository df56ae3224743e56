package embedded

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// testStore is a Store that can open its file again, for the suite.
type testStore struct {
	*Store
	path string
}

func (ts testStore) Reopen(t *testing.T) store.Store { return openFile(t, ts.path) }

// Dump is the database file once the WAL is checkpointed into it, and what is
// left of the WAL.
func (ts testStore) Dump(t *testing.T) []byte {
	t.Helper()
	if _, err := ts.w.ExecContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(ts.path)
	if err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(ts.path + "-wal")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return append(db, wal...)
}

func openFile(t *testing.T, path string) testStore {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return testStore{s, path}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	})
}

// TestPragmas checks the settings durability and correctness rest on, on both
// the writer and a reader connection.
func TestPragmas(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	ctx := t.Context()
	check := func(who, pragma, want string) {
		t.Helper()
		var got string
		db := s.w
		if who == "reader" {
			db = s.r
		}
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("%s: PRAGMA %s = %q, %v; want %q", who, pragma, got, err, want)
		}
	}
	check("writer", "journal_mode", "wal")
	check("writer", "synchronous", "2") // FULL
	check("writer", "foreign_keys", "1")
	check("writer", "busy_timeout", busyTimeout)
	check("writer", "secure_delete", "1") // an erased message leaves no bytes behind
	check("reader", "journal_mode", "wal")
	check("reader", "query_only", "1")
	check("reader", "busy_timeout", busyTimeout)
}

// TestBallotsHaveNoRowid checks that the ballots table has no rowid, which would
// number ballots in their order of arrival.
func TestBallotsHaveNoRowid(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "runtime.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"ballots", "participation"} {
		_, err := s.r.ExecContext(t.Context(), "SELECT rowid FROM "+table)
		if err == nil || !strings.Contains(err.Error(), "no such column") {
			t.Errorf("SELECT rowid FROM %s: %v; want no such column", table, err)
		}
	}
}

func TestOpenRefusesMemoryAndQueries(t *testing.T) {
	for _, p := range []string{"", ":memory:", filepath.Join(t.TempDir(), "x.db?mode=ro")} {
		if s, err := Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

// TestSealEmptiesTheLog: after sealing, the write-ahead log holds nothing (it kept
// the casts in arrival order) and the box is intact.
func TestSealEmptiesTheLog(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "e.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	vs := []store.Voter{{ID: "a", Name: "A", Weight: 1}, {ID: "b", Name: "B", Weight: 1}}
	if _, err := s.ImportRoll(ctx, "d", storetest.Entries(vs)); err != nil {
		t.Fatal(err)
	}
	storetest.OpenBox(t, s)
	for i, v := range vs {
		if err := s.Cast(ctx, v.ID, store.Ballot{Payload: []byte("{}"), Weight: 1, Tracker: string(rune('x' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the test expects casts in the log before sealing (err=%v)", err)
	}
	if err := s.SealBallots(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("the write-ahead log still holds %d bytes after sealing", fi.Size())
	}
	if b, err := s.Ballots(ctx); err != nil || len(b) != 2 {
		t.Errorf("after sealing: %d ballots, %v", len(b), err)
	}
}
