package embedded

import (
	"os"
	"path/filepath"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// TestCastVerifiableSurvivesKill9 runs a process that casts verifiable ballots,
// voters re-voting round and round, kills it with SIGKILL partway, reopens the
// file and finds every acknowledged ballot on the board and exactly one counted
// ballot per voter, their last.
func TestCastVerifiableSurvivesKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.db")
	s := openFile(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.CastVerifiableKilled9(t, "TestHelperVerifiableCaster", path, s, func(t *testing.T) store.Store {
		return openFile(t, path)
	})
}

// TestHelperVerifiableCaster is the process TestCastVerifiableSurvivesKill9 kills.
func TestHelperVerifiableCaster(t *testing.T) {
	path := os.Getenv(storetest.VerifiableCasterEnv)
	if path == "" {
		t.Skip("helper process for TestCastVerifiableSurvivesKill9")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CastVerifiableUntilKilled(t, s)
}
