package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// serializableDatabase is a new database whose default_transaction_isolation is
// serializable, as a tenant's DBA may set it; connections opened afterwards
// inherit it unless the store sets its own.
func serializableDatabase(t *testing.T) string {
	t.Helper()
	dsn := newDatabase(t, srv)
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	var name string
	if err := c.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(t.Context(), "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET default_transaction_isolation = 'serializable'"); err != nil {
		t.Fatal(err)
	}
	return dsn
}

// TestSerializableDatabaseConcurrentWrongCodesNo5xx: on a database whose default
// isolation is serializable, concurrent wrong codes, code requests and code
// records for one voter, from four stores (four pods), all succeed or are refused
// as the lockout says: never a serialization failure (40001, a 500 for the voter).
func TestSerializableDatabaseConcurrentWrongCodesNo5xx(t *testing.T) {
	dsn := serializableDatabase(t)
	first, ids := openMigrated(t, dsn, 6)
	var isolation string
	if err := first.pool.QueryRow(t.Context(), "SHOW default_transaction_isolation").Scan(&isolation); err != nil {
		t.Fatal(err)
	}
	t.Logf("the database's default isolation is serializable; the store's connections use %q", isolation)
	stores := []store.Store{first, openDSN(t, dsn), openDSN(t, dsn), openDSN(t, dsn)}
	policy := store.LockoutPolicy{MaxFailures: 5, Lockouts: []time.Duration{time.Minute}}
	now := time.Now().UTC().Truncate(time.Microsecond)
	wrong := func(p *store.PendingSignIn) store.Verdict {
		if p == nil {
			return store.NothingToCheck
		}
		return store.Wrong
	}
	var mu sync.Mutex
	var errs []error
	for _, id := range ids {
		if err := first.PutSignIn(t.Context(), store.PendingSignIn{VoterID: id, LastSentAt: now, ExpiresAt: now.Add(time.Hour),
			Codes: []store.PendingCode{{Hash: bytes.Repeat([]byte{1}, 32), ExpiresAt: now.Add(time.Hour)}}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 16 {
			s := stores[i%len(stores)]
			wg.Go(func() {
				var err error
				switch i % 4 {
				case 0, 1:
					_, err = s.AttemptSignIn(t.Context(), id, now, policy, wrong, nil)
				case 2:
					_, _, err = s.ReserveCode(t.Context(), id, now.Add(time.Duration(i)*time.Second), time.Second)
				default:
					err = s.UpdateSignIn(t.Context(), id, now, func(cur *store.PendingSignIn) store.PendingSignIn {
						if cur != nil {
							return *cur
						}
						return store.PendingSignIn{VoterID: id, ExpiresAt: now.Add(time.Hour)}
					})
					if errors.Is(err, store.ErrLockedOut) {
						err = nil
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s, operation %d: %w", id, i%4, err))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	for _, err := range errs {
		t.Error(err)
	}
}

// TestSerializableDatabaseCastsRacingClose: the suite's casts racing the close, on
// a database whose default isolation is serializable: every cast is counted or
// refused as closed, none fails with 40001.
func TestSerializableDatabaseCastsRacingClose(t *testing.T) {
	s := openDSN(t, serializableDatabase(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.CastsRacingClose(t, s)
}
