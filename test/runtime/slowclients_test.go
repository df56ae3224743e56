package runtime

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// startProcess runs the runtime as startOpen does, and returns it with its process
// (to read its memory).
func startProcess(t *testing.T, smtp *sink.SMTPSink, n int, extra ...string) *runtimetest.Process {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	args := append([]string{
		"--election", runtimetest.ElectionFile(t, dir, "EmailCode", now.Add(-time.Minute), now.Add(time.Hour), ""),
		"--roll", runtimetest.RollFile(t, dir, n), "--store", "embedded:" + filepath.Join(dir, "e.db"), "--smtp", smtp.Addr(),
	}, extra...)
	logs := &runtimetest.SyncBuffer{}
	p, err := runtimetest.StartProcess(runtimeBin, nil, logs, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// memKiB is a memory figure of process pid from /proc/PID/status: VmRSS (resident
// now) or VmHWM (the most it was resident).
func memKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no " + field)
	return 0
}

// slowPosts opens n anonymous POSTs to /ballot/confirm and 10 more to
// /api/v1/ballot (a third of them with a forged session cookie), each from its own
// address (X-Forwarded-For: the runtime runs with --client-ip-header), announcing
// bodies of 3000 bytes, under each route's bound, so that the runtime reads them,
// and trickling them ("{", then a space a second), until the test ends.
func slowPosts(t *testing.T, base string, n int) {
	t.Helper()
	trickle(t, base, n+10, func(i int) string { return fmt.Sprintf("10.2.%d.%d", i/200, i%200+1) },
		func(i int) string {
			if i >= n {
				return "/api/v1/ballot"
			}
			return "/ballot/confirm"
		}, 3000,
		func(i int) string {
			if i%3 == 0 {
				return "Cookie: scrutin_session=forged-" + strconv.Itoa(i) + "\r\n"
			}
			return ""
		})
}

// TestSlowAnonymousClientsDoNotStopACast: more slow anonymous POSTs than the
// runtime's bound (bodies trickled a byte a second, to /ballot/confirm and
// /api/v1/ballot, read before the session was checked, for 30 s) held every place
// in flight: a signed-in voter's cast got the wait page. The session is checked
// before any body is read, anonymous requests never take the places kept for
// voters (and hold, while their body arrives, places within the lowest share),
// bodies are bounded by route and read within a deadline: the voter casts, at
// once, at a small bound and at the default one. The slow clients come each from
// an address of its own (the bound per address is TestOneAddressCannotBlock...'s),
// with bodies under their route's bound, which the runtime reads.
func TestSlowAnonymousClientsDoNotStopACast(t *testing.T) {
	for _, bound := range []int{16, 256} {
		t.Run(strconv.Itoa(bound), func(t *testing.T) {
			smtp := sink.StartSMTP(t)
			rt := startOpen(t, smtp, 2, "--max-in-flight", strconv.Itoa(bound), "--client-ip-header", "X-Forwarded-For")
			v := newVoter(rt.URL, nil)
			signIn(t, v, smtp, 1)
			slowPosts(t, rt.URL, bound+10)

			start := time.Now()
			var got castAnswer
			status, err := v.call("POST", "/api/v1/ballot", sampleAnswers, &got)
			took := time.Since(start)
			if err != nil || status != 201 || got.Tracker == "" {
				t.Fatalf("a signed-in voter's cast among %d slow anonymous clients (bound %d): %d %+v %v", bound+20, bound, status, got, err)
			}
			if took > 2*time.Second {
				t.Errorf("the cast took %s, want under 2 s", took)
			}
			t.Logf("bound %d, %d slow anonymous clients (%d to /ballot/confirm, 10 to /api/v1/ballot): the cast took %s", bound, bound+20, bound+10, took)
		})
	}
}

// TestRefusedLargeBodiesDoNotGrowMemory: requests refused under load had their
// bodies read (and parsed) by the wait page: 60 refused 2 MB bodies took a runtime
// from 29 MB to 185 MB, its pod's limit being 256 Mi. A refused request is answered
// without reading its body, and the connection closed; a body is read only up to
// its route's bound. At a small bound and at the default one.
func TestRefusedLargeBodiesDoNotGrowMemory(t *testing.T) {
	for _, bound := range []int{16, 256} {
		t.Run(strconv.Itoa(bound), func(t *testing.T) { refusedLargeBodies(t, bound) })
	}
}

func refusedLargeBodies(t *testing.T, bound int) {
	smtp := sink.StartSMTP(t)
	p := startProcess(t, smtp, 2, append([]string{"--max-in-flight", strconv.Itoa(bound)}, oneClientFillsTheBound...)...)
	base := p.URL
	addr := strings.TrimPrefix(base, "http://")
	v := newVoter(base, nil)
	signIn(t, v, smtp, 1)
	// The bound taken by a voter's casts that never finish: what follows is
	// refused by the admission control.
	holdCasts(t, base, sessionOf(t, v), bound)
	before := memKiB(t, p.Cmd.Process.Pid, "VmRSS")

	body := strings.Repeat("q_chair=bob&", 2_000_000/12)
	paths := []string{"/sign-in", "/ballot/confirm", "/ballot", "/sign-in/code"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	sem := make(chan struct{}, 96)
	for i := range 96 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", paths[i%len(paths)], addr, len(body))
			go func() { _, _ = io.Copy(c, strings.NewReader(body)) }() // the runtime may close it first
			status, err := readStatus(c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[-1]++
				return
			}
			statuses[status]++
		}()
	}
	wg.Wait()
	// the most the runtime held at any time, against what it held before
	after, peak := memKiB(t, p.Cmd.Process.Pid, "VmRSS"), memKiB(t, p.Cmd.Process.Pid, "VmHWM")
	t.Logf("bound %d, 96 large bodies: answers %v; VmRSS %d KiB before, %d KiB after, peak (VmHWM) %d KiB: +%d KiB",
		bound, statuses, before, after, peak, peak-before)
	if statuses[503] == 0 {
		t.Errorf("no request was refused by the admission control: %v", statuses)
	}
	if peak-before > 50*1024 {
		t.Errorf("the runtime grew by %d KiB, more than 50 MiB", peak-before)
	}
}

// TestSlowBodiesCutAtTheirDeadline: a body was read for up to 30 s (the server's
// ReadTimeout), so a client trickling it held its place that long. A body must now
// arrive within --body-read-timeout (10 s) of its admission: casts trickled by a
// client holding a session, filling the whole bound, give their places back once
// it has passed, and a voter casts again well before 30 s.
func TestSlowBodiesCutAtTheirDeadline(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 2, append([]string{"--max-in-flight", "16"}, oneClientFillsTheBound...)...)
	holder := newVoter(rt.URL, nil)
	signIn(t, holder, smtp, 1)
	v := newVoter(rt.URL, nil)
	signIn(t, v, smtp, 2)
	holdCasts(t, rt.URL, sessionOf(t, holder), 16)
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for {
		var got castAnswer
		status, err := v.call("POST", "/api/v1/ballot", sampleAnswers, &got)
		if err == nil && status == 201 {
			t.Logf("the voter cast %s after the bound was taken", time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after 16 trickled casts took the bound (a body may take 10 s), a voter still cannot cast: %d %+v %v", status, got, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
