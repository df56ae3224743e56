package embedded

import (
	"os"
	"path/filepath"
	"testing"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// TestImportKilled9LeavesNothing runs a process that imports a roll with its
// letters and stops, mid-transaction, once every entry is written; kills it with
// SIGKILL there; reopens the file and finds neither voters nor letters nor a
// digest; then imports the roll again: once, with every letter queued once.
func TestImportKilled9LeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtime.db")
	s := openFile(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()

	storetest.ImportKilled9(t, "TestHelperImporter", path, func(t *testing.T) store.Store {
		if fi, err := os.Stat(path + "-wal"); err == nil {
			t.Logf("the killed import left a WAL of %d bytes", fi.Size())
		}
		return openFile(t, path)
	})
}

// TestHelperImporter is the process TestImportKilled9LeavesNothing kills.
func TestHelperImporter(t *testing.T) {
	path := os.Getenv(storetest.ImporterEnv)
	if path == "" {
		t.Skip("helper process for TestImportKilled9LeavesNothing")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.ImportUntilKilled(t, s)
}
