package postgres

import (
	"os"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// TestCastVerifiableSurvivesKill9 runs a process that casts verifiable ballots,
// voters re-voting round and round, kills it with SIGKILL partway and finds
// every acknowledged ballot on the board and exactly one counted ballot per
// voter, their last. The server rolls back the killed process's transactions in
// flight once it sees their connections closed.
func TestCastVerifiableSurvivesKill9(t *testing.T) {
	dsn := newDatabase(t, srv)
	s := openDSN(t, dsn)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.CastVerifiableKilled9(t, "TestHelperVerifiableCaster", dsn, s, func(*testing.T) store.Store { return s })
}

// TestHelperVerifiableCaster is the process TestCastVerifiableSurvivesKill9 kills.
func TestHelperVerifiableCaster(t *testing.T) {
	dsn := os.Getenv(storetest.VerifiableCasterEnv)
	if dsn == "" {
		t.Skip("helper process for TestCastVerifiableSurvivesKill9")
	}
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CastVerifiableUntilKilled(t, s)
}
