package server

import (
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Priority of a request under load: lower goes first. A voter with a session casting
// a ballot goes before a code check, which goes before a new sign-in, which goes
// before everything else.
type Priority int

const (
	PriorityCast Priority = iota
	PriorityCode
	PrioritySignIn
	PriorityOther
	priorities
)

var priorityNames = [priorities]string{"cast", "code", "sign-in", "other"}

// shares are the part of the in-flight bound each priority may fill: a cast is
// admitted up to the bound, a code check up to 80 % of it, a new sign-in only while
// 40 % of it is free, so that under overload the lower priorities are turned away
// first and those already in the middle of voting go on. The fifth kept for casts
// alone is what lets a voter holding a session cast at 3× the knee (make
// bench-peak: with 10 % kept, about 1 % of first casts met the wait page there).
var shares = [priorities]float64{1.0, 0.8, 0.6, 0.5}

// RetryAfterSeconds is what a turned-away request is told to wait.
const RetryAfterSeconds = 2

// classify says how urgent a request is; exempt requests (the liveness probe, and
// the pages' stylesheet and script, which are embedded and cheap, and without which
// the wait page itself would be unreadable) are never turned away. The controller's
// calls, readiness and metrics are on the operations port (Server.Ops), outside
// admission.
func classify(r *http.Request) (p Priority, exempt bool) {
	path := r.URL.Path
	switch {
	case strings.HasPrefix(path, "/static/"), path == "/healthz":
		return 0, true
	case isSessionRoute(r) && !hasSessionCookie(r):
		// without a session, nothing on a voter's route is urgent: the places
		// kept for casts and codes are not for anonymous clients
		return PriorityOther, false
	case r.Method == http.MethodGet && (path == "/ballot" || path == "/api/v1/ballot"):
		// a voter who signed in and reads the ballot is as far along as one
		// checking a code: turned away now, they would have signed in for nothing
		return PriorityCode, false
	case r.Method != http.MethodPost:
		return PriorityOther, false
	case path == "/api/v1/ballot" || path == "/ballot/confirm":
		return PriorityCast, false
	case path == "/api/v1/sign-in/code" || path == "/sign-in/code" || path == "/ballot" || path == "/session/extend" || path == "/api/v1/session/extend":
		return PriorityCode, false
	case path == "/api/v1/sign-in" || path == "/sign-in" || path == "/sign-in/resend":
		return PrioritySignIn, false
	default:
		return PriorityOther, false
	}
}

// isSessionRoute: a route that serves only a voter holding a session.
func isSessionRoute(r *http.Request) bool {
	switch r.URL.Path {
	case "/ballot", "/api/v1/ballot", "/ballot/confirm", "/ballot/change", "/receipt", "/session/extend", "/api/v1/session/extend":
		return true
	}
	return false
}

// hasSessionCookie: the request carries a session cookie, live or not.
func hasSessionCookie(r *http.Request) bool {
	c, err := r.Cookie(SessionCookie)
	return err == nil && c.Value != ""
}

// isSignInStep: a sign-in or code request, of the API or the pages, which the
// per-address limit counts (casts and session extensions are not: they need a
// session, which took a sign-in).
func isSignInStep(r *http.Request) bool {
	switch r.URL.Path {
	case "/api/v1/sign-in", "/api/v1/sign-in/code", "/sign-in", "/sign-in/code", "/sign-in/resend":
		return r.Method == http.MethodPost
	}
	return false
}

// clientAddress keys the per-address limit: the connection's address, or, with
// ClientIPHeader, the header's last address that is not one of TrustedProxies
// (when valid). An IPv6 client counts by its /64, which one host commonly holds
// whole.
func (s *Server) clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if s.cfg.ClientIPHeader != "" {
		if fa, ok := forwardedClient(r.Header.Values(s.cfg.ClientIPHeader), s.cfg.TrustedProxies); ok {
			a, err = fa, nil
		}
	}
	if err != nil {
		return host
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// forwardedClient is the client's address in a forwarding header's values: the
// last address is the one the ingress itself saw and appended; those before it
// are whatever the connection's client chose to send, and spoofable, unless that
// client is a trusted proxy (a load balancer in front of the ingress), whose own
// entry is then skipped. An entry that is no address ends the walk: nothing.
func forwardedClient(values []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var parts []string
	for _, v := range values {
		parts = append(parts, strings.Split(v, ",")...)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil {
			return netip.Addr{}, false
		}
		if i == 0 || !isTrusted(a, trusted) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rateLimited answers a request over its limit: the wait page for a person (it
// retries by itself), a JSON 429 for a machine client; both with Retry-After.
func (s *Server) rateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration, message string) {
	w.Header().Set("Connection", "close") // its body is never read
	secs := max(1, int(math.Ceil(wait.Seconds())))
	if s.cfg.WaitPage != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
		s.cfg.WaitPage(w, r, secs)
		return
	}
	writeRateLimited(w, secs, message+": try again in "+strconv.Itoa(secs)+" seconds")
}

func writeRateLimited(w http.ResponseWriter, secs int, message string) {
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, apiError{Error: "rate-limited", Message: message, RetryAfterSeconds: secs})
}

// admission bounds the requests in flight. Over its share, a request is answered at
// once (503, Retry-After): nothing queues, nothing grows without bound.
type admission struct {
	limit    int64
	inFlight atomic.Int64
	// reading counts the sign-in steps admitted whose body is still arriving:
	// they are bounded by the share of the lowest priority (readingShare), so
	// that clients trickling small forms never hold the places kept for a
	// signed-in voter's ballot and cast, whatever their number of addresses.
	reading atomic.Int64
	shed    *prometheus.CounterVec
}

// readingShare is the part of the bound the sign-in steps whose body is still
// arriving may hold: the share of "other". Once its body is in, a sign-in step
// is what its priority says (a code check goes before a new sign-in).
var readingShare = shares[PriorityOther]

func newAdmission(limit int, reg prometheus.Registerer) *admission {
	a := &admission{limit: int64(limit), shed: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scrutin_requests_shed_total", Help: "Requests answered with the wait page because the runtime was at its bound, by priority.",
	}, []string{"priority"})}
	for _, n := range priorityNames {
		a.shed.WithLabelValues(n)
	}
	if reg != nil {
		reg.MustRegister(a.shed)
	}
	return a
}

// admit takes a place for a request of priority p, or says no.
func (a *admission) admit(p Priority) bool {
	if a.limit <= 0 {
		return true
	}
	n := a.inFlight.Add(1)
	if float64(n) > float64(a.limit)*shares[p] {
		a.inFlight.Add(-1)
		a.shed.WithLabelValues(priorityNames[p]).Inc()
		return false
	}
	return true
}

func (a *admission) done() {
	if a.limit > 0 {
		a.inFlight.Add(-1)
	}
}

// admitReading takes a place among the requests whose body is still arriving,
// for a request of priority p already admitted, or says no.
func (a *admission) admitReading(p Priority) bool {
	if a.limit <= 0 {
		return true
	}
	n := a.reading.Add(1)
	if float64(n) > float64(a.limit)*readingShare {
		a.reading.Add(-1)
		a.shed.WithLabelValues(priorityNames[p]).Inc()
		return false
	}
	return true
}

func (a *admission) doneReading() {
	if a.limit > 0 {
		a.reading.Add(-1)
	}
}

// ticket is the place in flight a request holds, released when it is answered.
type ticket struct {
	s    *Server
	p    Priority
	held bool
	// reading: the request also holds a place among those whose body is
	// still arriving (admission.reading), until its body is read.
	reading bool
}

type ticketKey struct{}

func (t *ticket) release() {
	t.bodyRead()
	if t.held {
		t.held = false
		t.s.admission.done()
	}
}

// startReading takes a place among the requests whose body is still arriving
// (admission.reading) for r, until its body has been read; false when none is
// free.
func (t *ticket) startReading(r *http.Request) bool {
	if t.reading {
		return true
	}
	if !t.s.admission.admitReading(t.p) {
		return false
	}
	t.reading = true
	r.Body = &watchedBody{ReadCloser: r.Body, t: t}
	return true
}

// bodyRead gives back the place among the requests whose body is arriving.
func (t *ticket) bodyRead() {
	if t.reading {
		t.reading = false
		t.s.admission.doneReading()
	}
}

// watchedBody tells the ticket when the body has been read whole (or failed).
type watchedBody struct {
	io.ReadCloser
	t *ticket
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.t.bodyRead()
	}
	return n, err
}

// Demote trades the place a request holds at a voter's priority (a cast, a code)
// for one of the lowest, for a request found on its way to hold no live session:
// an anonymous client never keeps the places kept for voters while its body is
// read, and holds, until its body is in, a place within the lowest share. When no such place is free, the request is answered as overloaded, its
// body unread, and Demote returns false. Outside the server (no place held) it
// returns true.
func Demote(w http.ResponseWriter, r *http.Request) bool {
	t, _ := r.Context().Value(ticketKey{}).(*ticket)
	if t == nil || !t.held || t.p >= PriorityOther {
		return true
	}
	t.release()
	if !t.s.admission.admit(PriorityOther) {
		t.s.overloaded(w, r)
		return false
	}
	t.p, t.held = PriorityOther, true
	if r.Body != nil && r.Body != http.NoBody && !t.startReading(r) {
		t.s.overloaded(w, r)
		return false
	}
	return true
}

// overloaded answers a turned-away request: the wait page for a person, a JSON 503
// for a machine client; both with Retry-After.
func (s *Server) overloaded(w http.ResponseWriter, r *http.Request) {
	// The voter comes back in a few seconds: meanwhile their connection would hold
	// a goroutine and its buffers, thousands of them under overload. Closing it
	// keeps memory flat; the session is in the cookie, not the connection.
	h := w.Header()
	h["Connection"] = closeValue
	if s.cfg.WaitPage != nil && !strings.HasPrefix(r.URL.Path, "/api/") {
		s.cfg.WaitPage(w, r, RetryAfterSeconds)
		return
	}
	// The same answer for every client, made once: under overload it is most of
	// the answers, and it allocates nothing.
	h["Retry-After"] = retryAfterValue
	h["Content-Type"] = jsonValue
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(busyBody)
}

// The overload answer's header values and JSON body (as writeJSON writes it).
var (
	closeValue      = []string{"close"}
	retryAfterValue = []string{strconv.Itoa(RetryAfterSeconds)}
	jsonValue       = []string{"application/json"}
	busyBody        = func() []byte {
		b, err := json.Marshal(apiError{Error: "busy",
			Message: "many voters right now: try again in a moment; your session is kept", RetryAfterSeconds: RetryAfterSeconds})
		if err != nil {
			panic(err)
		}
		return append(b, '\n')
	}()
)

// Header values every answer carries, made once.
var (
	noStoreValue = []string{"no-store"}
	nosniffValue = []string{"nosniff"}
)
