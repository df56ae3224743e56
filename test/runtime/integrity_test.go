package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/controllers"
	"scrutin.dev/scrutin/internal/pgtest"
	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// electionWithGeneration writes an Election file whose metadata carries the
// generation the controller writes there (the schedule's version).
func electionWithGeneration(t *testing.T, dir string, generation int64, opens, closes time.Time) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	yaml := runtimetest.ElectionYAML("EmailCode", opens, closes, "")
	yaml = string(bytes.Replace([]byte(yaml), []byte("  namespace: tenant\n"),
		[]byte(fmt.Sprintf("  namespace: tenant\n  generation: %d\n", generation)), 1))
	path := filepath.Join(dir, "election.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type finalResults struct {
	BallotsCast int64                      `json:"ballotsCast"`
	Results     []scrutinv1.QuestionResult `json:"results"`
}

// counted is how many ballots the tally counted: every cast in these tests
// answers alice to chair, with weight 1.
func (r finalResults) counted() int64 {
	for _, q := range r.Results {
		if q.QuestionID != "chair" {
			continue
		}
		n := q.Blank
		for _, o := range q.Options {
			n += o.Votes
		}
		return n
	}
	return -1
}

// waitResults polls a runtime's results until they are counted.
func waitResults(t *testing.T, base, token string, timeout time.Duration) finalResults {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var res finalResults
		code := control(t, base, token, http.MethodGet, "/control/v1/results", nil, &res)
		if code == http.StatusOK {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("no results from %s after %s (last answer %d)", base, timeout, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// castAll has voters[i] cast once each (in parallel) and returns the trackers of
// the 201s and how many were refused as closed.
func castAll(t *testing.T, vs map[int]*voter, ids []int) (receipts []string, closed int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ans castAnswer
			status, err := vs[i].call(http.MethodPost, "/api/v1/ballot", sampleAnswers, &ans)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("cast of %s: %v", runtimetest.VoterID(i), err)
			case status == http.StatusCreated:
				receipts = append(receipts, ans.Tracker)
			case status == http.StatusConflict && ans.Error == "closed":
				closed++
			default:
				t.Errorf("cast of %s: %d %s", runtimetest.VoterID(i), status, ans.Error)
			}
		}()
	}
	wg.Wait()
	return receipts, closed
}

// checkCounted: every receipt is on the board and counted, and the count is
// exactly the receipts.
func checkCounted(t *testing.T, base string, res finalResults, receipts []string) {
	t.Helper()
	if got := res.counted(); got != int64(len(receipts)) || res.BallotsCast != int64(len(receipts)) {
		t.Errorf("%d receipts (201 with a tracker) were given, the tally counted %d ballots (ballotsCast %d): every receipt must be counted",
			len(receipts), got, res.BallotsCast)
	}
	var board struct{ Trackers []string }
	v := newVoter(base, nil)
	if status, err := v.call(http.MethodGet, "/api/v1/board", nil, &board); err != nil || status != http.StatusOK {
		t.Fatalf("board: %d %v", status, err)
	}
	on := map[string]bool{}
	for _, tr := range board.Trackers {
		on[tr] = true
	}
	missing := 0
	for _, tr := range receipts {
		if !on[tr] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d receipts are not on the board", missing, len(receipts))
	}
}

// TestReceiptNeverUncountedAcrossStaleSchedulesOnPostgres is the finding
// "a receipt for a ballot that is never counted": two runtime processes share one
// PostgreSQL, an old one whose file says closesAt = T and a new one (after an
// extend) whose file says T+30 s. Voters cast on both before and after T. Every
// 201 must be counted, and both processes must report the same results.
func TestReceiptNeverUncountedAcrossStaleSchedulesOnPostgres(t *testing.T) {
	pg := pgtest.ForTest(t)
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	opens := now.Add(-time.Minute)
	closes := now.Add(10 * time.Second).Truncate(time.Second) // T, a whole second (RFC 3339)
	const n = 20
	roll := runtimetest.RollFile(t, dir, n)
	token := filepath.Join(dir, "control-token")
	common := []string{"--roll", roll, "--store", "postgres:" + pg.AdminDSN(), "--smtp", smtp.Addr(),
		"--control-token-file", token, stormFromOneAddress, stormFromOneAddressInFlight}
	oldPod := runtimetest.Start(t, runtimeBin, nil, append([]string{
		"--election", electionWithGeneration(t, filepath.Join(dir, "old"), 1, opens, closes)}, common...)...)
	newPod := runtimetest.Start(t, runtimeBin, nil, append([]string{
		"--election", electionWithGeneration(t, filepath.Join(dir, "new"), 2, opens, closes.Add(30*time.Second))}, common...)...)
	pods := []*runtimetest.Instance{oldPod, newPod}

	vs := map[int]*voter{}
	var before, after []int
	for i := 1; i <= n; i++ {
		vs[i] = newVoter(pods[i%2].URL, nil)
		signIn(t, vs[i], smtp, i)
		if i <= n/2 {
			before = append(before, i)
		} else {
			after = append(after, i)
		}
	}
	if time.Until(closes) < time.Second {
		t.Fatalf("signing %d voters in took too long: T is %s away", n, time.Until(closes))
	}
	receipts, _ := castAll(t, vs, before)
	if len(receipts) != len(before) {
		t.Fatalf("%d receipts of %d casts before T", len(receipts), len(before))
	}
	// Past T, by the old pod's clock and file: it would close, seal and count.
	time.Sleep(time.Until(closes.Add(3 * time.Second)))
	late, _ := castAll(t, vs, after)
	receipts = append(receipts, late...)
	t.Logf("%d receipts before T, %d after", len(before), len(late))

	// Close now (what `kubectl scrutin close` does: a newer schedule whose closesAt
	// is now), rather than wait for T+30 s.
	tok := runtimetest.ReadFile(t, token)
	client := &controllers.HTTPRuntimeClient{BaseURL: func(string) string { return newPod.OpsURL }}
	if err := client.SetSchedule(context.Background(), controllers.RuntimeTarget{Token: tok}, controllers.RuntimeSchedule{
		OpensAt: opens, ClosesAt: time.Now(), Version: 3,
	}); err != nil {
		t.Errorf("pushing the closing schedule as the controller does: %v", err)
	}
	resOld := waitResults(t, oldPod.OpsURL, tok, 40*time.Second)
	resNew := waitResults(t, newPod.OpsURL, tok, 40*time.Second)
	checkCounted(t, newPod.URL, resNew, receipts)
	a, _ := json.Marshal(resOld)
	b, _ := json.Marshal(resNew)
	if !bytes.Equal(a, b) {
		t.Errorf("the two processes report different results:\nold %s\nnew %s", a, b)
	}
}

// TestReceiptNeverUncountedOnEmbeddedStore is the same finding on the embedded
// store: one process whose schedule closes at T, voters casting through T (racing
// the close), then the pod restarted with a later closesAt (an extend after the
// count): the recorded close holds, and every 201 is counted.
func TestReceiptNeverUncountedOnEmbeddedStore(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	opens := now.Add(-time.Minute)
	closes := now.Add(8 * time.Second).Truncate(time.Second)
	const n = 30
	token := filepath.Join(dir, "control-token")
	common := []string{"--roll", runtimetest.RollFile(t, dir, n), "--store", "embedded:" + filepath.Join(dir, "election.db"),
		"--smtp", smtp.Addr(), "--control-token-file", token, stormFromOneAddress, stormFromOneAddressInFlight}
	pod := runtimetest.Start(t, runtimeBin, nil, append([]string{
		"--election", electionWithGeneration(t, filepath.Join(dir, "v1"), 1, opens, closes)}, common...)...)

	vs := map[int]*voter{}
	for i := 1; i <= n; i++ {
		vs[i] = newVoter(pod.URL, nil)
		signIn(t, vs[i], smtp, i)
	}
	if time.Until(closes) < 2*time.Second {
		t.Fatalf("signing %d voters in took too long: T is %s away", n, time.Until(closes))
	}
	// Casts racing the close: one voter every 100 ms from 1.5 s before T.
	time.Sleep(time.Until(closes.Add(-1500 * time.Millisecond)))
	var receipts []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 1; i <= 2*n/3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := castAll(t, vs, []int{i})
			mu.Lock()
			receipts = append(receipts, r...)
			mu.Unlock()
		}()
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	tok := runtimetest.ReadFile(t, token)
	waitResults(t, pod.OpsURL, tok, 30*time.Second)

	// An extend after the count restarts the pod with a later closesAt.
	pod.Stop()
	pod = runtimetest.Start(t, runtimeBin, nil, append([]string{
		"--election", electionWithGeneration(t, filepath.Join(dir, "v2"), 2, opens, closes.Add(30*time.Second))}, common...)...)
	var rest []int
	for i := 2*n/3 + 1; i <= n; i++ {
		rest = append(rest, i)
		vs[i] = vs[i].moveTo(pod.URL)
	}
	late, closed := castAll(t, vs, rest)
	receipts = append(receipts, late...)
	if closed != len(rest) {
		t.Errorf("after the count, %d of %d casts were refused as closed", closed, len(rest))
	}
	checkCounted(t, pod.URL, waitResults(t, pod.OpsURL, tok, 30*time.Second), receipts)
}

// TestScheduleMoveReachesRunningPodFromItsFile: a running pod re-reads its
// election file (the kubelet rewrites a mounted ConfigMap in place) and follows a
// newer schedule without a restart: here the close moved earlier, as `kubectl
// scrutin close` does, and the pod closes and counts on it.
func TestScheduleMoveReachesRunningPodFromItsFile(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	opens := now.Add(-time.Minute)
	token := filepath.Join(dir, "control-token")
	election := electionWithGeneration(t, dir, 1, opens, now.Add(time.Hour))
	pod := runtimetest.Start(t, runtimeBin, nil, "--election", election, "--election-reread", "200ms",
		"--roll", runtimetest.RollFile(t, dir, 2), "--store", "embedded:"+filepath.Join(dir, "election.db"),
		"--smtp", smtp.Addr(), "--control-token-file", token)
	v := newVoter(pod.URL, nil)
	signIn(t, v, smtp, 1)
	receipts, _ := castAll(t, map[int]*voter{1: v}, []int{1})
	if len(receipts) != 1 {
		t.Fatalf("%d receipts before the move", len(receipts))
	}
	// the tenant closes the election now: the ConfigMap, hence the file, changes
	electionWithGeneration(t, dir, 2, opens, time.Now().Add(time.Second))
	tok := runtimetest.ReadFile(t, token)
	res := waitResults(t, pod.OpsURL, tok, 20*time.Second)
	checkCounted(t, pod.URL, res, receipts)
	var st struct {
		ScheduleVersion int64 `json:"scheduleVersion"`
		Closed          bool  `json:"closed"`
	}
	if code := control(t, pod.OpsURL, tok, http.MethodGet, "/control/v1/status", nil, &st); code != http.StatusOK || st.ScheduleVersion != 2 || !st.Closed {
		t.Errorf("status %d: %+v; want schedule version 2, closed", code, st)
	}
}
