package embedded

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/storetest"
)

// importerEnv names the database file the helper process imports into.
const importerEnv = "EMBEDDED_TEST_IMPORTER_DB"

// importKillVoters is the roll TestImportKilled9 imports: enough voters and
// letters that SQLite spills the unfinished transaction into the WAL.
const importKillVoters = 20_000

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

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperImporter$")
	cmd.Env = append(os.Environ(), importerEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	written := false
	for !written && lines.Scan() {
		written = lines.Text() == fmt.Sprintf("written %d", importKillVoters)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !written {
		t.Fatal("the importer ended before writing its entries")
	}
	if fi, err := os.Stat(path + "-wal"); err == nil {
		t.Logf("the killed import left a WAL of %d bytes", fi.Size())
	}

	s = openFile(t, path)
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
		imported, err := s.ImportRoll(ctx, "d", storetest.Letters("v", importKillVoters, nil))
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

// TestHelperImporter is the process TestImportKilled9LeavesNothing kills: it
// imports the roll, and once every entry is written, says so and waits, its
// transaction open, for the SIGKILL.
func TestHelperImporter(t *testing.T) {
	path := os.Getenv(importerEnv)
	if path == "" {
		t.Skip("helper process for TestImportKilled9LeavesNothing")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	entries := func(yield func(store.RollEntry, error) bool) {
		for e, err := range storetest.Letters("v", importKillVoters, nil) {
			if !yield(e, err) {
				return
			}
		}
		fmt.Printf("written %d\n", importKillVoters)
		time.Sleep(time.Hour) // the SIGKILL comes here
	}
	_, err = s.ImportRoll(t.Context(), "d", entries)
	t.Fatalf("the import returned: %v", err)
}
