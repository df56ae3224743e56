package runtime

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// oneClientFillsTheBound lifts the bounds of requests in flight per client address
// and per session, for the tests that fill the runtime's whole bound from this one
// test process with one voter's session (to test what happens at the bound).
var oneClientFillsTheBound = []string{"--max-in-flight-per-address=0", "--max-in-flight-per-session=0"}

// forwardedFor gives a test client its own address: the runtime runs with
// --client-ip-header X-Forwarded-For and takes its last address as the client's.
type forwardedFor struct {
	addr string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return f.next.RoundTrip(r)
}

// voterAt is a voter whose requests come from addr.
func voterAt(base, addr string) *voter {
	v := newVoter(base, nil)
	v.http.Transport = forwardedFor{addr: addr, next: &http.Transport{}}
	return v
}

// trickle opens n requests, the i-th to path(i) from address from(i)
// (X-Forwarded-For) with the header lines extra(i), announcing a body of length bytes (under
// the route's bound, so that the runtime reads it) and sending it, "{" and then a
// space a second (a JSON value still open, a form not yet whole),
// until the test ends or the runtime closes the connection.
func trickle(t *testing.T, base string, n int, from, path func(int) string, length int, extra func(int) string) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	for i := range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		path := path(i)
		ct := "application/x-www-form-urlencoded"
		if strings.HasPrefix(path, "/api/") {
			ct = "application/json"
		}
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nX-Forwarded-For: %s\r\n%sContent-Type: %s\r\nContent-Length: %d\r\n\r\n{", path, addr, from(i), extra(i), ct, length)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					// a space: a JSON body still open, a form not yet whole
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
	}
	time.Sleep(time.Second) // the runtime reads their headers
}

// prompt runs a voter's step and fails the test unless it gets want within 2 s;
// it says whether it got want.
func prompt(t *testing.T, what string, want int, step func() (int, error)) bool {
	t.Helper()
	start := time.Now()
	status, err := step()
	took := time.Since(start)
	if err != nil || status != want {
		t.Errorf("%s: %d %v, want %d", what, status, err, want)
		return false
	}
	if took > 2*time.Second {
		t.Errorf("%s took %s, want under 2 s", what, took)
	}
	t.Logf("%s: %d in %s", what, status, took.Round(time.Millisecond))
	return true
}

// signInPrompt: a new sign-in of voter i from its own address, each step within 2 s.
func signInPrompt(t *testing.T, v *voter, smtp *sink.SMTPSink, i int) {
	t.Helper()
	if !prompt(t, "a new sign-in", http.StatusAccepted, func() (int, error) {
		return v.call(http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": runtimetest.VoterID(i)}, nil)
	}) {
		return
	}
	m, err := smtp.WaitFor(runtimetest.VoterEmail(i), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	prompt(t, "its code", http.StatusOK, func() (int, error) {
		return v.call(http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": runtimetest.VoterID(i), "code": sink.CodeIn(m.Body)}, nil)
	})
}

// TestOneAddressCannotBlockSignInsAndTheBallot: anonymous
// POSTs to /sign-in/code took the code checks' priority (80 % of the bound) and
// /sign-in 60 % while their bodies trickled in for up to 10 s, and the per-address
// limit counted requests a second, not in flight: with --max-in-flight 16, 14 such
// requests from one address gave a signed-in voter's ballot and every new sign-in a
// 503 for 11 s; slow anonymous confirms (50 %) blocked the sign-in page. One
// address now holds at most a few places in flight (--max-in-flight-per-address,
// a sixteenth of the bound, at least 4), and a sign-in step holds its place within
// the lowest share until its body is in. More slow requests than the bound, with
// bodies under each route's bound, from one address: the ballot, the sign-in page,
// a new sign-in and a cast from other addresses all go through at once; from many
// addresses, the signed-in voter's ballot and cast still do. At 16 and at the
// default bound.
func TestOneAddressCannotBlockSignInsAndTheBallot(t *testing.T) {
	paths := []string{"/sign-in/code", "/api/v1/sign-in/code", "/sign-in", "/api/v1/sign-in", "/ballot/confirm"}
	for _, bound := range []int{16, 256} {
		for _, many := range []bool{false, true} {
			name := strconv.Itoa(bound) + "/one-address"
			if many {
				name = strconv.Itoa(bound) + "/many-addresses"
			}
			t.Run(name, func(t *testing.T) {
				smtp := sink.StartSMTP(t)
				rt := startOpen(t, smtp, 3, "--max-in-flight", strconv.Itoa(bound), "--client-ip-header", "X-Forwarded-For")
				reader := voterAt(rt.URL, "198.51.100.1")
				signIn(t, reader, smtp, 1)
				caster := voterAt(rt.URL, "198.51.100.3")
				signIn(t, caster, smtp, 3)

				from := func(int) string { return "203.0.113.7" }
				if many {
					from = func(i int) string { return fmt.Sprintf("10.%d.%d.1", i/200, i%200) }
				}
				// 3000 bytes: under the sign-in forms' bound (4 KiB) and the ballot's
				trickle(t, rt.URL, bound+10, from, func(i int) string { return paths[i%len(paths)] }, 3000, noHeader)

				prompt(t, "a signed-in voter's GET /api/v1/ballot", http.StatusOK, func() (int, error) {
					return reader.call(http.MethodGet, "/api/v1/ballot", nil, nil)
				})
				prompt(t, "a signed-in voter's GET /ballot", http.StatusOK, func() (int, error) {
					return reader.call(http.MethodGet, "/ballot", nil, nil)
				})
				prompt(t, "a signed-in voter's cast", http.StatusCreated, func() (int, error) {
					return caster.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil)
				})
				if many {
					return // many addresses may hold the sign-ins' share: they wait
				}
				prompt(t, "the sign-in page", http.StatusOK, func() (int, error) {
					return voterAt(rt.URL, "198.51.100.4").call(http.MethodGet, "/", nil, nil)
				})
				signInPrompt(t, voterAt(rt.URL, "198.51.100.2"), smtp, 2)
			})
		}
	}
}

// TestOneSessionCannotHoldEveryCastPlace: a live session gives
// a cast the highest priority (all of the bound), and the session is checked before
// the body is read: one voter's cookie, even after voting, held every place by
// opening slow casts (here each from its own address), and every other voter's cast
// got the wait page. A session now has at most 2 requests in flight
// (--max-in-flight-per-session): another voter casts at once.
func TestOneSessionCannotHoldEveryCastPlace(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 2, "--max-in-flight", "16", "--client-ip-header", "X-Forwarded-For")
	holder := voterAt(rt.URL, "198.51.100.1")
	signIn(t, holder, smtp, 1)
	if status, err := holder.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil); err != nil || status != http.StatusCreated {
		t.Fatalf("the holder's own cast: %d %v", status, err)
	}
	v := voterAt(rt.URL, "198.51.100.2")
	signIn(t, v, smtp, 2)
	// 26 slow casts with the holder's cookie (it has voted: still a live session),
	// each from its own address, bodies under the cast's bound
	cookie := "Cookie: " + sessionOf(t, holder).String() + "\r\n"
	trickle(t, rt.URL, 26, func(i int) string { return fmt.Sprintf("10.1.%d.1", i) }, func(int) string { return "/api/v1/ballot" }, 3000,
		func(int) string { return cookie })
	prompt(t, "another voter's cast", http.StatusCreated, func() (int, error) {
		return v.call(http.MethodPost, "/api/v1/ballot", sampleAnswers, nil)
	})
}

// TestSignInBodiesCutAtTheirShorterDeadline: a sign-in step's
// body, 4 KiB at most, could take the ballot's 10 s (--body-read-timeout) to
// arrive, holding its place all that time. It must now arrive within
// --sign-in-body-read-timeout (5 s) of its admission: a trickled code request is
// cut well before 10 s.
func TestSignInBodiesCutAtTheirShorterDeadline(t *testing.T) {
	smtp := sink.StartSMTP(t)
	rt := startOpen(t, smtp, 1)
	addr := strings.TrimPrefix(rt.URL, "http://")
	for _, path := range []string{"/api/v1/sign-in/code", "/sign-in/code"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		ct := "application/x-www-form-urlencoded"
		if strings.HasPrefix(path, "/api/") {
			ct = "application/json"
		}
		start := time.Now()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: 3000\r\n\r\n{", path, addr, ct)
		closed := make(chan time.Duration, 1)
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					closed <- time.Since(start)
					return
				}
			}
		}()
		tick := time.NewTicker(500 * time.Millisecond)
	trickling:
		for {
			select {
			case took := <-closed:
				t.Logf("%s: a trickled body cut after %s", path, took.Round(100*time.Millisecond))
				if took > 8*time.Second {
					t.Errorf("%s: a trickled body was cut after %s, want well under the ballot's 10 s", path, took)
				}
				break trickling
			case <-tick.C:
				_, _ = c.Write([]byte(" "))
				if time.Since(start) > 15*time.Second {
					t.Errorf("%s: a trickled body still read after 15 s", path)
					break trickling
				}
			}
		}
		tick.Stop()
		c.Close()
	}
}

// noHeader adds no header line to a trickled request.
func noHeader(int) string { return "" }
