package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
)

// Letters streams n voters (prefix0000000…), each with a credential letter
// whose content names the voter. It counts the entries read in *read, when not nil.
func Letters(prefix string, n int, read *atomic.Int64) store.RollEntries {
	notAfter := time.Now().Add(24 * time.Hour)
	return func(yield func(store.RollEntry, error) bool) {
		for i := range n {
			if read != nil {
				read.Add(1)
			}
			id := fmt.Sprintf("%s%07d", prefix, i)
			e := store.RollEntry{
				Voter: store.Voter{ID: id, Name: "Some Body", Email: id + "@example.org", Weight: 1,
					CredentialHash: []byte("0123456789abcdef0123456789abcdef")},
				Letter: &store.OutboxMessage{Kind: store.KindCredential, Channel: store.ChannelMail,
					Sealed: []byte("letter for " + id), NotAfter: notAfter},
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// failingAt is entries, then an error instead of entry n.
func failingAt(entries store.RollEntries, n int) store.RollEntries {
	return func(yield func(store.RollEntry, error) bool) {
		i := 0
		for e, err := range entries {
			if i == n {
				yield(store.RollEntry{}, errors.New("the roll's part 7 cannot be read"))
				return
			}
			i++
			if !yield(e, err) {
				return
			}
		}
	}
}

// queuedLetters counts the queued credential letters and every letter.
func queuedLetters(t *testing.T, s store.Store) (queued, all int64) {
	t.Helper()
	cs, err := s.DeliveryCounts(t.Context())
	if err != nil {
		t.Fatalf("DeliveryCounts: %v", err)
	}
	for _, c := range cs {
		if c.Kind == store.KindCredential {
			all += c.N
			if c.State == store.DeliveryQueued {
				queued += c.N
			}
		}
	}
	return queued, all
}

// testImportRollWithLetters imports 20,000 voters with their letters, all or
// nothing: an import failing at its last entry leaves neither voters nor
// letters; the same digest again reads nothing; a new roll withdraws the old
// letters.
func testImportRollWithLetters(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20_000
	if imported, err := s.ImportRoll(ctx, "broken", failingAt(Letters("a", n, nil), n-1)); err == nil || imported {
		t.Fatalf("an import whose last entry fails: imported=%v, %v", imported, err)
	}
	if q, all := queuedLetters(t, s); all != 0 || q != 0 {
		t.Errorf("a failed import left %d letters", all)
	}
	if v, _ := counts(t, s); v != 0 {
		t.Errorf("a failed import left %d voters", v)
	}
	if d, _ := s.RollDigest(ctx); d != "" {
		t.Errorf("a failed import recorded digest %q", d)
	}

	var read atomic.Int64
	if imported, err := s.ImportRoll(ctx, "d1", Letters("a", n, &read)); err != nil || !imported {
		t.Fatalf("ImportRoll: imported=%v, %v", imported, err)
	}
	if q, all := queuedLetters(t, s); q != n || all != n {
		t.Errorf("%d letters queued (%d in all), want %d", q, all, n)
	}
	if v, _ := counts(t, s); v != n {
		t.Errorf("%d voters, want %d", v, n)
	}
	got := claim(t, s, store.ChannelMail, 1, time.Hour)
	if len(got) != 1 || got[0].VoterID != "a0000000" || string(got[0].Sealed) != "letter for a0000000" {
		t.Errorf("the first letter claimed: %+v; want the first voter's, in file order", got)
	}

	read.Store(0)
	if imported, err := s.ImportRoll(ctx, "d1", Letters("a", n, &read)); err != nil || imported {
		t.Errorf("the same digest again: imported=%v, %v; want false", imported, err)
	}
	if read.Load() != 0 {
		t.Errorf("importing the digest already imported read %d entries", read.Load())
	}

	// A failed import over the roll changes nothing, letters included.
	if _, err := s.ImportRoll(ctx, "broken", failingAt(Letters("b", 100, nil), 50)); err == nil {
		t.Fatal("an import whose entries fail succeeded")
	}
	if q, all := queuedLetters(t, s); q != n || all != n { // one of them leased, still queued
		t.Errorf("after a failed import: %d letters queued (%d in all), want %d", q, all, n)
	}
	if v, _ := counts(t, s); v != n {
		t.Errorf("after a failed import: %d voters, want %d", v, n)
	}

	if imported, err := s.ImportRoll(ctx, "d2", Letters("b", 10, nil)); err != nil || !imported {
		t.Fatalf("ImportRoll(d2): imported=%v, %v", imported, err)
	}
	if v, _ := counts(t, s); v != 10 {
		t.Errorf("after d2: %d voters, want 10", v)
	}
	if q, all := queuedLetters(t, s); q != 10 || all != n+10 {
		t.Errorf("after d2: %d letters queued (%d in all), want 10 (%d)", q, all, n+10)
	}
	if d := delivery(t, s, "a0000001", mustFirstID(t, s, "a0000001")); d.State != store.DeliveryWithdrawn {
		t.Errorf("the old roll's letter: %s, want withdrawn", d.State)
	}
	// The letter being sent when the roll changed: its worker records nothing.
	if finish(t, s, got[0].ID, got[0].Attempts, sent) {
		t.Error("Finish recorded an old roll's letter withdrawn by the new roll")
	}
}

func mustFirstID(t *testing.T, s store.Store, voter string) int64 {
	t.Helper()
	ms, err := s.Deliveries(t.Context(), voter, 1)
	if err != nil || len(ms) != 1 {
		t.Fatalf("Deliveries(%s) = %+v, %v", voter, ms, err)
	}
	return ms[0].ID
}

// testImportRollOnce runs two imports of one roll at once, from two Stores (two
// processes, when the store can be reopened): the second starts while the first
// is reading its entries. One imports; the other waits, then returns false
// without reading any entry; the letters are queued once.
func testImportRollOnce(t *testing.T, s store.Store) {
	const n = 5_000
	other := s
	if r, ok := s.(Reopener); ok {
		other = r.Reopen(t)
	}
	var readA, readB atomic.Int64
	started := make(chan struct{})
	slowA := func(yield func(store.RollEntry, error) bool) {
		i := 0
		for e, err := range Letters("v", n, &readA) {
			if i == 1 {
				close(started)
				time.Sleep(300 * time.Millisecond) // B is at the lock by now, most likely
			}
			i++
			if !yield(e, err) {
				return
			}
		}
	}
	type result struct {
		imported bool
		err      error
	}
	a, b := make(chan result, 1), make(chan result, 1)
	go func() {
		imported, err := s.ImportRoll(t.Context(), "d", slowA)
		a <- result{imported, err}
	}()
	select {
	case <-started:
	case r := <-a:
		t.Fatalf("the first import ended before reading its entries: %+v", r)
	}
	go func() {
		imported, err := other.ImportRoll(t.Context(), "d", Letters("v", n, &readB))
		b <- result{imported, err}
	}()
	ra, rb := <-a, <-b
	if ra.err != nil || rb.err != nil {
		t.Fatalf("imports: %v; %v", ra.err, rb.err)
	}
	if !ra.imported || rb.imported {
		t.Errorf("imported: first %v, second %v; want true, false", ra.imported, rb.imported)
	}
	if readB.Load() != 0 {
		t.Errorf("the second import read %d entries of a roll already imported", readB.Load())
	}
	if q, all := queuedLetters(t, s); q != n || all != n {
		t.Errorf("%d letters queued (%d in all), want %d", q, all, n)
	}
	if v, _ := counts(t, s); v != n {
		t.Errorf("%d voters, want %d", v, n)
	}
}

// ImporterEnv names the database (a file or a DSN) that the helper process of
// ImportKilled9 imports into.
const ImporterEnv = "STORETEST_IMPORTER_DB"

// importKillVoters is the roll ImportKilled9 imports: enough voters and letters
// that SQLite spills the unfinished transaction into the WAL.
const importKillVoters = 20_000

// ImportKilled9 runs the test binary's test helper (one that calls
// ImportUntilKilled) with ImporterEnv set to db, a migrated database; kills it
// with SIGKILL once it has written every entry, mid-transaction; then, on the
// Store reopen returns for that database, finds neither voters nor letters nor a
// digest, and imports the roll again: once, with every letter queued once.
func ImportKilled9(t *testing.T, helper, db string, reopen func(t *testing.T) store.Store) {
	t.Helper()
	written := killHelper(t, helper, ImporterEnv, db, func(line string) bool {
		return line == fmt.Sprintf("written %d", importKillVoters)
	})
	if !written {
		t.Fatal("the importer ended before writing its entries")
	}

	s := reopen(t)
	ctx := t.Context()
	if d, err := s.RollDigest(ctx); err != nil || d != "" {
		t.Errorf("after the kill: RollDigest = %q, %v; want none", d, err)
	}
	if v, _, err := s.Counts(ctx); err != nil || v != 0 {
		t.Errorf("after the kill: %d voters (%v), want 0", v, err)
	}
	if cs, err := s.DeliveryCounts(ctx); err != nil || len(cs) != 0 {
		t.Errorf("after the kill: letters %+v (%v), want none", cs, err)
	}

	for i, want := range []bool{true, false} {
		imported, err := s.ImportRoll(ctx, "d", Letters("v", importKillVoters, nil))
		if err != nil || imported != want {
			t.Fatalf("import %d after the kill: imported=%v, %v; want %v", i+1, imported, err, want)
		}
	}
	cs, err := s.DeliveryCounts(ctx)
	if err != nil || len(cs) != 1 || cs[0].N != importKillVoters || cs[0].State != store.DeliveryQueued {
		t.Errorf("after the redo: %+v (%v); want %d queued letters", cs, err, importKillVoters)
	}
	if v, _, _ := s.Counts(ctx); v != importKillVoters {
		t.Errorf("after the redo: %d voters, want %d", v, importKillVoters)
	}
}

// ImportUntilKilled is the process ImportKilled9 kills: it imports the roll
// into s and, once every entry is written, says so and waits, its transaction
// open, for the SIGKILL.
func ImportUntilKilled(t *testing.T, s store.Store) {
	entries := func(yield func(store.RollEntry, error) bool) {
		for e, err := range Letters("v", importKillVoters, nil) {
			if !yield(e, err) {
				return
			}
		}
		fmt.Printf("written %d\n", importKillVoters)
		time.Sleep(time.Hour) // the SIGKILL comes here
	}
	_, err := s.ImportRoll(t.Context(), "d", entries)
	t.Fatalf("the import returned: %v", err)
}
