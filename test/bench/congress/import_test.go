package congress

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/roll"
	"scrutin.dev/scrutin/voting-runtime/roll/synthetic"
)

// TestCongressImport starts the voting-runtime binary on a roll in parts of each
// size in SCRUTIN_BENCH_IMPORT_VOTERS (140000,1000000), cut as `kubectl scrutin roll
// split` cuts it and laid out as the controller mounts it (part-0001.csv, ...), on
// each store of SCRUTIN_BENCH_STORES, with the Credential method (a letter per
// voter, enqueued in the import's transaction; the SMTP sink takes them). It
// reports the time from the start until /readyz answers (validation, then the
// import) and the runtime's peak RSS.
func TestCongressImport(t *testing.T) {
	sizes := []int{140_000, 1_000_000}
	if v := os.Getenv("SCRUTIN_BENCH_IMPORT_VOTERS"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	stores := strings.Split(os.Getenv("SCRUTIN_BENCH_STORES"), ",")
	if stores[0] == "" {
		stores = []string{"postgres", "embedded"}
	}
	for _, n := range sizes {
		dir := t.TempDir()
		parts := writeParts(t, dir, n)
		for _, s := range stores {
			t.Run(fmt.Sprintf("%s/%d", s, n), func(t *testing.T) { congressImport(t, s, n, dir, parts) })
		}
	}
}

// writeParts writes a synthetic roll of n voters as parts in dir/roll.
func writeParts(t *testing.T, dir string, n int) int {
	t.Helper()
	whole := filepath.Join(dir, "roll.csv")
	f, err := os.Create(whole)
	if err != nil {
		t.Fatal(err)
	}
	if err := synthetic.Write(f, synthetic.Options{Voters: n, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rollDir := filepath.Join(dir, "roll")
	if err := os.MkdirAll(rollDir, 0o755); err != nil {
		t.Fatal(err)
	}
	parts := 0
	err = roll.Split(f, roll.DefaultMaxPartBytes, func(i int, part []byte) error {
		parts++
		return os.WriteFile(filepath.Join(rollDir, fmt.Sprintf("part-%04d.csv", i)), part, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return parts
}

func congressImport(t *testing.T, storeType string, n int, dir string, parts int) {
	start := time.Now()
	rt := startCredentialRuntime(t, storeType, filepath.Join(dir, "roll"), sink.StartSMTP(t), true)
	ready := waitReady(t, rt, 60*time.Minute)
	rss, err := rt.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	took := ready.Sub(start)
	t.Logf("%s: %d voters in %d parts imported in %s (%.0f voters/s), runtime peak RSS %.1f MiB",
		storeType, n, parts, took.Round(100*time.Millisecond), float64(n)/took.Seconds(), float64(rss)/(1<<20))
	appendFigures(t, fmt.Sprintf("import store=%s voters=%d parts=%d ready-after=%s peak-rss=%.1fMiB",
		storeType, n, parts, took.Round(100*time.Millisecond), float64(rss)/(1<<20)))
}
