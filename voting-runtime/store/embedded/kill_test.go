package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// casterEnv names the database file the helper process casts into.
const casterEnv = "EMBEDDED_TEST_CASTER_DB"

// TestCastSurvivesKill9 runs a process that casts for voter after voter and
// prints each one whose Cast returned, kills it with SIGKILL partway, reopens the
// file and finds every acknowledged ballot there.
func TestCastSurvivesKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.db")
	const n = 2000
	s := openFile(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportRoll(t.Context(), "d", storetest.Entries(rollOf(n))); err != nil {
		t.Fatal(err)
	}
	storetest.OpenBox(t, s)
	s.Close()

	acked := storetest.KillAfterAcks(t, "TestHelperCaster", casterEnv, path, 300)

	s = openFile(t, path)
	ps, err := s.Participation(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s.Ballots(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	voted := 0
	for _, p := range ps {
		if p.Voted {
			voted++
		} else if acked[p.Voter.ID] {
			t.Errorf("%s's Cast returned but the voter is not marked as having voted", p.Voter.ID)
		}
	}
	if len(bs) != voted || voted < len(acked) {
		t.Errorf("%d ballots, %d voters voted, %d acknowledged", len(bs), voted, len(acked))
	}
	t.Logf("%d casts acknowledged before SIGKILL, %d in the box after", len(acked), voted)
}

// TestHelperCaster is the process TestCastSurvivesKill9 kills: it casts for every
// voter, 4 at a time, printing "cast <id>" once each Cast has returned.
func TestHelperCaster(t *testing.T) {
	path := os.Getenv(casterEnv)
	if path == "" {
		t.Skip("helper process for TestCastSurvivesKill9")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < 2000; i = next.Add(1) - 1 {
				id := fmt.Sprintf("v%04d", i)
				if err := s.Cast(t.Context(), id, store.Ballot{Payload: []byte(id), Weight: 1, Tracker: "t" + id}); err != nil {
					continue
				}
				mu.Lock()
				fmt.Printf("cast %s\n", id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCastFromTwoStores casts 200 times for one voter from two Stores on one
// file (as two processes would): exactly one ballot gets in.
func TestCastFromTwoStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.db")
	a, b := openFile(t, path), openFile(t, path)
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ImportRoll(t.Context(), "d", storetest.Entries(rollOf(1))); err != nil {
		t.Fatal(err)
	}
	storetest.OpenBox(t, a)
	var ok, already atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			err := s.Cast(t.Context(), "v0000", store.Ballot{Payload: []byte("p"), Weight: 1, Tracker: fmt.Sprint(i)})
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
	if ok.Load() != 1 || already.Load() != 199 {
		t.Errorf("%d successes, %d ErrAlreadyVoted; want 1, 199", ok.Load(), already.Load())
	}
	if bs, err := b.Ballots(t.Context()); err != nil || len(bs) != 1 {
		t.Errorf("%d ballots (%v), want 1", len(bs), err)
	}
}

// rollOf is a roll of n voters v0000….
func rollOf(n int) []store.Voter {
	vs := make([]store.Voter, n)
	for i := range vs {
		vs[i] = store.Voter{ID: fmt.Sprintf("v%04d", i), Name: "V", Weight: 1}
	}
	return vs
}
