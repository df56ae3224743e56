package postgres

import (
	"os"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// TestImportKilled9LeavesNothing runs a process that imports a roll with its
// letters and stops, mid-transaction, once every entry is written; kills it with
// SIGKILL there; finds neither voters nor letters nor a digest; then imports the
// roll again: once, with every letter queued once. The server ends the killed
// process's transaction once it sees the connection closed; the next import
// waits for its lock until then.
func TestImportKilled9LeavesNothing(t *testing.T) {
	dsn := newDatabase(t, srv)
	s := openDSN(t, dsn)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.ImportKilled9(t, "TestHelperImporter", dsn, func(*testing.T) store.Store { return s })
}

// TestHelperImporter is the process TestImportKilled9LeavesNothing kills.
func TestHelperImporter(t *testing.T) {
	dsn := os.Getenv(storetest.ImporterEnv)
	if dsn == "" {
		t.Skip("helper process for TestImportKilled9LeavesNothing")
	}
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	storetest.ImportUntilKilled(t, s)
}
