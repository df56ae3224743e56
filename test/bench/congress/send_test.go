// Package congress benchmarks a party congress's delivery: the voting-runtime
// binary imports a roll of credential voters and sends every credential letter to
// a real SMTP sink on 127.0.0.1 that accepts a bounded rate, while the runtime is
// killed (SIGKILL) twice during the send. It is not part of `make test`: run it
// with `make bench-congress` (SCRUTIN_BENCH_CONGRESS=1); see test/bench/README.md.
package congress

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

var runtimeBin string

func TestMain(m *testing.M) {
	if os.Getenv("SCRUTIN_BENCH_CONGRESS") == "" {
		fmt.Println("the congress benchmark runs with SCRUTIN_BENCH_CONGRESS=1 (make bench-congress)")
		os.Exit(0)
	}
	os.Exit(runtimetest.Main(m, &runtimeBin))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestCongressLetters sends one credential letter per voter of a roll of
// SCRUTIN_BENCH_VOTERS voters (140,000 by default) to an SMTP sink that accepts at
// most SCRUTIN_BENCH_SMTP_RATE letters a second (500 by default), on each store
// named in SCRUTIN_BENCH_STORES (postgres,embedded), and kills the runtime twice
// during the send (at a third and at two thirds of the letters received). It
// reports letters per second, the queue age of letters when the sink accepted them
// (from the end of the import), letters lost (must be 0) and letters sent twice
// (counted; each must carry the same credential as the first).
func TestCongressLetters(t *testing.T) {
	stores := strings.Split(os.Getenv("SCRUTIN_BENCH_STORES"), ",")
	if stores[0] == "" {
		stores = []string{"postgres", "embedded"}
	}
	for _, s := range stores {
		t.Run(s, func(t *testing.T) { congressLetters(t, s) })
	}
}

func congressLetters(t *testing.T, storeType string) {
	n := envInt("SCRUTIN_BENCH_VOTERS", 140_000)
	rate := envInt("SCRUTIN_BENCH_SMTP_RATE", 500)
	smtp := sink.StartSMTP(t)
	smtp.SetRate(float64(rate))
	dir := t.TempDir()

	roll := runtimetest.RollFile(t, dir, n)
	start := time.Now()
	rt := startCredentialRuntime(t, storeType, roll, smtp, false)
	imported := waitReady(t, rt, 30*time.Minute)
	t.Logf("%s: %d voters imported in %s", storeType, n, imported.Sub(start).Round(100*time.Millisecond))

	// Kill the runtime twice during the send, then wait for every voter's letter.
	for _, at := range []int{n / 3, 2 * n / 3} {
		waitCount(t, smtp, at, time.Duration(n/rate+600)*time.Second)
		rt.Kill9()
		t.Logf("%s: killed (SIGKILL) at %d letters received", storeType, len(smtp.Messages()))
		rt.Restart()
	}
	deadline := time.Now().Add(time.Duration(n/rate+900) * time.Second)
	var first map[string]string
	var dupes, differing int
	for {
		msgs := smtp.Messages()
		first, dupes, differing = tally(msgs)
		if len(first) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	time.Sleep(5 * time.Second) // late duplicates of the last leases
	msgs := smtp.Messages()
	first, dupes, differing = tally(msgs)
	lost := n - len(first)

	ages := make([]time.Duration, 0, len(msgs))
	for _, m := range msgs {
		ages = append(ages, m.ReceivedAt.Sub(imported))
	}
	slices.Sort(ages)
	span := msgs[len(msgs)-1].ReceivedAt.Sub(msgs[0].ReceivedAt)
	t.Logf("%s: voters %d, letters received %d, lost %d, sent twice %d (with a different credential: %d)",
		storeType, n, len(msgs), lost, dupes, differing)
	t.Logf("%s: %.0f letters/s (sink bound %d/s) over %s; queue age at acceptance p50 %s, p99 %s, max %s",
		storeType, float64(len(msgs))/span.Seconds(), rate, span.Round(time.Second),
		pct(ages, 50), pct(ages, 99), ages[len(ages)-1].Round(time.Second))
	if lost != 0 {
		t.Errorf("%d letters lost", lost)
	}
	if differing != 0 {
		t.Errorf("%d duplicate letters carried another credential than the first", differing)
	}
	appendFigures(t, fmt.Sprintf("letters store=%s voters=%d sink-rate=%d/s import=%s received=%d lost=%d twice=%d letters/s=%.0f age-p50=%s age-p99=%s",
		storeType, n, rate, imported.Sub(start).Round(100*time.Millisecond), len(msgs), lost, dupes,
		float64(len(msgs))/span.Seconds(), pct(ages, 50), pct(ages, 99)))
}

// startCredentialRuntime starts the voting-runtime with the Credential method on
// the roll (a file or a directory of parts), on a fresh store of storeType
// (postgres or embedded), sending its letters to smtp. It returns once the roll is
// imported, or, with importing, as soon as the runtime answers (the caller then
// waits for /readyz itself: a million voters may take longer than
// runtimetest.Start waits).
func startCredentialRuntime(t *testing.T, storeType, roll string, smtp *sink.SMTPSink, importing bool) *runtimetest.Instance {
	t.Helper()
	work := t.TempDir()
	var storeSpec string
	switch storeType {
	case "postgres":
		storeSpec = "postgres:" + pgtest.ForTest(t).AdminDSN()
	case "embedded":
		storeSpec = "embedded:" + filepath.Join(work, "data", "election.db")
	default:
		t.Fatalf("unknown store %q", storeType)
	}
	now := time.Now()
	election := runtimetest.ElectionFile(t, work, "Credential", now.Add(2*time.Hour), now.Add(4*time.Hour), "")
	start := runtimetest.Start
	if importing {
		start = runtimetest.StartImporting
	}
	return start(t, runtimeBin, nil, "--election", election, "--roll", roll, "--store", storeSpec,
		"--smtp", smtp.Addr(), "--scrutineer-token-file", filepath.Join(work, "scrutineer-token"),
		"--control-token-file", filepath.Join(work, "control-token"))
}

// tally maps each recipient to the credential of their first letter, and counts
// letters sent again, and those among them with another credential.
func tally(msgs []sink.Mail) (first map[string]string, dupes, differing int) {
	first = make(map[string]string, len(msgs))
	for _, m := range msgs {
		to := strings.Join(m.To, ",")
		c := sink.CredentialIn(m.Body)
		if prev, seen := first[to]; seen {
			dupes++
			if prev != c {
				differing++
			}
			continue
		}
		first[to] = c
	}
	return first, dupes, differing
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(time.Second)
}

// waitReady polls /readyz on the operations port until the roll is imported.
func waitReady(t *testing.T, rt *runtimetest.Instance, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, rt.OpsURL+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now()
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("not ready after %s:\n%s", timeout, rt.Logs.String())
	return time.Time{}
}

func waitCount(t *testing.T, s *sink.SMTPSink, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(s.Messages()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d letters after %s", len(s.Messages()), timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// appendFigures appends a line of figures to _output/bench/congress.txt.
func appendFigures(t *testing.T, line string) {
	dir := filepath.Join("..", "..", "..", "_output", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Log(err)
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "congress.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Log(err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s %s\n", time.Now().UTC().Format(time.RFC3339), line)
}
