package runtime

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestCastsGoFirstUnderLoad: at its bound, which the Election sets
// (spec.scaling.maxInFlightRequestsPerPod), the runtime turns new sign-ins away at
// once (503, Retry-After, closing the connection) and still serves the ballot to a
// voter holding a session, and takes it.
func TestCastsGoFirstUnderLoad(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	// A bound of 8, the least an Election may set: sign-ins (60 %) are turned away
	// once 4 requests are in flight, casts only at 8.
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), "  scaling: {maxInFlightRequestsPerPod: 8}\n"),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
		oneClientFillsTheBound[0], oneClientFillsTheBound[1])
	v := newVoter(rt.URL, nil)
	signIn(t, v, smtp, 1)

	holdSignIns(t, rt.URL, 4)
	other := newVoter(rt.URL, nil)
	start := time.Now()
	var busy struct {
		Error             string `json:"error"`
		RetryAfterSeconds int    `json:"retryAfterSeconds"`
	}
	status, err := other.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(2)}, &busy)
	if err != nil || status != http.StatusServiceUnavailable || busy.Error != "busy" || busy.RetryAfterSeconds < 1 {
		t.Fatalf("a new sign-in at the bound: %d %+v %v; want 503 busy with a retry delay", status, busy, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("turning a request away took %s", took)
	}
	// the one turned away is not kept waiting on an open connection
	resp, err := http.Post(rt.URL+"/api/v1/sign-in", "application/json", strings.NewReader(`{"voterId":"`+runtimetest.VoterID(3)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close || resp.Header.Get("Retry-After") == "" {
		t.Errorf("turned away: %d, Connection: close %v, Retry-After %q", resp.StatusCode, resp.Close, resp.Header.Get("Retry-After"))
	}
	// a voter holding a session reads the ballot and casts
	if status, _ := v.call(http.MethodGet, "/api/v1/ballot", nil, nil); status != http.StatusOK {
		t.Fatalf("a voter holding a session could not read the ballot at the bound: %d", status)
	}
	if status, _ := v.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); status != http.StatusCreated {
		t.Fatalf("a voter holding a session could not cast at the bound: %d", status)
	}
}

// TestMaxInFlightFlag: --max-in-flight overrides the Election's bound in local runs
// (0: no bound).
func TestMaxInFlightFlag(t *testing.T) {
	smtp := sink.StartSMTP(t)
	dir := t.TempDir()
	now := time.Now()
	rt := runtimetest.Start(t, runtimeBin, nil,
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), "  scaling: {maxInFlightRequestsPerPod: 8}\n"),
		"--roll", runtimetest.RollFile(t, dir, 3), "--store", "embedded:"+filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
		"--max-in-flight", "0")
	holdSignIns(t, rt.URL, 6)
	signIn(t, newVoter(rt.URL, nil), smtp, 2)
}

// holdSignIns opens n sign-ins that stay in flight: their bodies never finish.
func holdSignIns(t *testing.T, base string, n int) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /api/v1/sign-in HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
	}
	time.Sleep(300 * time.Millisecond) // the runtime reads their headers and admits them
}
