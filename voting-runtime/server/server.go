// Package server is the voting-runtime's HTTP face, on two ports. The voters' port
// (Server itself) serves the pages, the JSON API for machine clients under /api/v1,
// the scrutineers' export and /healthz. The operations port (Server.Ops) serves the
// controller's control API under /control/v1, readiness, metrics and /healthz, and
// is never reachable through the voters' port: the ingress exposes that one whole.
// Every rule lives in the engine; this package maps requests to it and its errors
// to answers.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
	"scrutin.dev/scrutin/voting-runtime/ballot"
	"scrutin.dev/scrutin/voting-runtime/belenios"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/ratelimit"
)

// SessionCookie holds the voter's session id.
const SessionCookie = "scrutin_session"

// Config of the HTTP server.
type Config struct {
	Engine *engine.Engine
	// ControlToken authenticates the controller; ScrutineerToken the scrutineers.
	ControlToken, ScrutineerToken string
	// Ready reports whether the runtime can serve (store reachable, roll imported).
	Ready func(context.Context) error
	// RollImported, when set, is checked on every voter's request but /healthz
	// and static files: until it reports true (the roll is imported, which a
	// large roll takes minutes to be), they get WaitPage (or a JSON 503) at once.
	// A cheap in-memory flag: it is read on every request.
	RollImported func() bool
	// Gatherer serves /metrics; Registerer receives the server's own metrics.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Pages serves everything the API does not (the voters' pages, at "/"), so
	// that the in-flight count, the autoscaler's signal, includes them.
	Pages http.Handler
	// MaxInFlight bounds the requests served at once (0: no bound); past each
	// priority's share of it, requests get WaitPage (or a JSON 503) at once.
	MaxInFlight int
	// WaitPage answers a person turned away under load.
	WaitPage func(w http.ResponseWriter, r *http.Request, seconds int)
	// SignInRatePerAddress (a second) and SignInBurstPerAddress bound the sign-in
	// and code requests of one client address (0: no bound). Past them, a request
	// is answered at once (429, or WaitPage for a person) before it takes a place
	// in flight or reaches the engine: a flood from one address slows no other.
	SignInRatePerAddress  float64
	SignInBurstPerAddress int
	// RatePerAddress (a second) and BurstPerAddress bound every request of one
	// client address to the voters' routes, pages and API alike (0: no bound),
	// before it takes a place in flight. Generous: a works council behind one
	// NAT still votes; sign-in steps count against the tighter SignIn* limit too.
	RatePerAddress  float64
	BurstPerAddress int
	// BodyReadTimeout bounds the reading of a voter request's body, from the
	// moment it is admitted (0: only the http.Server's own timeouts). A ballot
	// is a few kilobytes: seconds even on a phone on a slow network.
	BodyReadTimeout time.Duration
	// SignInBodyReadTimeout bounds it for the sign-in steps, whose forms are
	// small (4 KiB at most, and a sealed draft): shorter than BodyReadTimeout,
	// so that a client trickling them gives its place back sooner (0: as
	// BodyReadTimeout).
	SignInBodyReadTimeout time.Duration
	// MaxInFlightPerAddress bounds the requests of one client address in flight
	// at once (0: no bound); past it, a request is answered at once (429, or
	// WaitPage for a person), before it takes a place in flight. A client
	// trickling its bodies from one address holds no more places than that.
	MaxInFlightPerAddress int
	// MaxInFlightPerSession bounds the requests carrying one session cookie in
	// flight at once (0: no bound): a voter's session, even one that has voted,
	// cannot hold the places kept for casts by opening slow casts.
	MaxInFlightPerSession int
	// Forbidden answers a person's form sent from another site (the pages'
	// page); the API and machine clients get a JSON 403.
	Forbidden func(w http.ResponseWriter, r *http.Request)
	// ClientIPHeader names a header whose last address (appended by the proxy) is the client's (such as
	// X-Forwarded-For); empty: the connection's address. Only behind a proxy that
	// sets it: anyone else can write any address in it.
	ClientIPHeader string
	// TrustedProxies are the addresses of proxies in front of the one that appends
	// to ClientIPHeader (a load balancer before the ingress), whose own entries
	// are skipped: the client is the last address of the header that is not one
	// of them. Empty: the last address, whatever it is.
	TrustedProxies []netip.Prefix
}

// Server routes requests to the engine.
type Server struct {
	cfg       Config
	en        *engine.Engine
	log       *slog.Logger
	inFlight  prometheus.Gauge
	admission *admission
	// counted is serve, counting answers by status (scrutin_http_responses_total)
	counted   http.Handler
	addresses *ratelimit.Keyed
	limited   prometheus.Counter
	// voters is the per-address bound of every voter route; crossOrigin the
	// one cross-site check of every state-changing request.
	voters        *ratelimit.Keyed
	votersLimited prometheus.Counter
	crossOrigin   *http.CrossOriginProtection
	// perAddress and perSession bound the requests in flight of one client
	// address, of one session cookie.
	perAddress, perSession   *inFlightBy
	addressBusy, sessionBusy prometheus.Counter
	// castBytes bounds the body of a cast (the longest ballot the questions
	// allow, with room for padding); signInBytes the other bodies of the API.
	castBytes int64
	mux       *http.ServeMux
	// ops serves the operations port: control API, readiness, metrics, health.
	ops *http.ServeMux
}

// signInBytes bounds the JSON body of a sign-in or code request.
const signInBytes = 4 << 10

// New builds the server's routes.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, en: cfg.Engine, log: cfg.Log, mux: http.NewServeMux(), ops: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "scrutin_runtime_inflight_requests", Help: "Requests being served (the autoscaler's per-pod signal).",
	})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.inFlight)
	}
	s.admission = newAdmission(cfg.MaxInFlight, cfg.Registerer)
	responses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scrutin_http_responses_total", Help: "Answers by HTTP status (503 includes the wait page; 5xx otherwise are errors on our side).",
	}, []string{"code"})
	for _, code := range []string{"200", "500", "503"} {
		responses.WithLabelValues(code)
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(responses)
	}
	s.counted = promhttp.InstrumentHandlerCounter(responses, http.HandlerFunc(s.serve))
	s.addresses = ratelimit.New(rate.Limit(cfg.SignInRatePerAddress), cfg.SignInBurstPerAddress)
	s.limited = ratelimit.Counter(cfg.Registerer, "address")
	s.voters = ratelimit.New(rate.Limit(cfg.RatePerAddress), cfg.BurstPerAddress)
	s.votersLimited = ratelimit.Counter(cfg.Registerer, "address-all-routes")
	s.crossOrigin = http.NewCrossOriginProtection()
	s.perAddress = newInFlightBy(cfg.MaxInFlightPerAddress)
	s.addressBusy = ratelimit.Counter(cfg.Registerer, "address-in-flight")
	s.perSession = newInFlightBy(cfg.MaxInFlightPerSession)
	s.sessionBusy = ratelimit.Counter(cfg.Registerer, "session-in-flight")
	if cfg.Engine != nil {
		s.castBytes = castBodyLimit(cfg.Engine.Questions())
		if cfg.Engine.Verifiable() {
			s.castBytes = encryptedCastBodyLimit(cfg.Engine.Questions())
		}
	}
	m := s.mux
	m.HandleFunc("POST /api/v1/sign-in", s.signIn)
	m.HandleFunc("POST /api/v1/sign-in/code", s.signInCode)
	m.HandleFunc("POST /api/v1/session/extend", s.withSession(s.extendSession))
	m.HandleFunc("POST /api/v1/sign-out", s.signOut)
	m.HandleFunc("GET /api/v1/ballot", s.withSession(s.getBallot))
	m.HandleFunc("POST /api/v1/ballot", s.withSession(s.postBallot))
	m.HandleFunc("GET /api/v1/proxy", s.withSession(s.getProxy))
	m.HandleFunc("POST /api/v1/proxy", s.withSession(s.postProxy))
	m.HandleFunc("DELETE /api/v1/proxy", s.withSession(s.deleteProxy))
	m.HandleFunc("GET /api/v1/board", s.board)
	m.HandleFunc("GET /api/v1/election.json", s.electionJSON)
	m.HandleFunc("GET /api/v1/board.bel", s.boardArchive)
	m.HandleFunc("POST /api/v1/trustees/{owner}/partial-decryption", s.partialDecryption)
	m.HandleFunc("GET /api/v1/results", s.results)
	m.HandleFunc("GET /api/v1/scrutineer/participation.csv", s.bearer(func() string { return cfg.ScrutineerToken }, s.participation))
	healthz := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	m.HandleFunc("GET /healthz", healthz)
	if cfg.Pages != nil {
		m.Handle("/", cfg.Pages)
	}
	// The operations port alone serves the controller, the probes and Prometheus:
	// on the voters' port these paths fall through to the pages' 404.
	o := s.ops
	o.HandleFunc("GET "+contract.ControlStatus, s.bearer(func() string { return cfg.ControlToken }, s.controlStatus))
	o.HandleFunc("POST "+contract.ControlOpen, s.bearer(func() string { return cfg.ControlToken }, s.controlOpen))
	o.HandleFunc("POST "+contract.ControlClose, s.bearer(func() string { return cfg.ControlToken }, s.controlClose))
	o.HandleFunc("POST "+contract.ControlSchedule, s.bearer(func() string { return cfg.ControlToken }, s.controlSchedule))
	o.HandleFunc("GET "+contract.ControlResults, s.bearer(func() string { return cfg.ControlToken }, s.controlResults))
	// the records also to the scrutineers' token, which the tenant holds: the
	// archive copy Job of its namespace reads them with it (never the control
	// token, which opens, closes and reads voters' sign-ins)
	o.HandleFunc("GET "+contract.ControlRecords, s.bearer(func() string { return cfg.ControlToken }, s.controlRecords,
		func() string { return cfg.ScrutineerToken }))
	o.HandleFunc("GET "+contract.ControlVoters+"{id}", s.bearer(func() string { return cfg.ControlToken }, s.controlVoter))
	o.HandleFunc("POST "+contract.ControlVoters+"{id}"+contract.ControlUnlock, s.bearer(func() string { return cfg.ControlToken }, s.controlUnlock))
	o.HandleFunc("POST "+contract.ControlVoters+"{id}"+contract.ControlResend, s.bearer(func() string { return cfg.ControlToken }, s.controlResend))
	o.HandleFunc("GET "+contract.ControlUnreached, s.bearer(func() string { return cfg.ControlToken }, s.controlUnreached))
	o.HandleFunc("GET "+contract.ControlProxies, s.bearer(func() string { return cfg.ControlToken }, s.controlProxies))
	o.HandleFunc("GET /healthz", healthz)
	o.HandleFunc("GET /readyz", s.readyz)
	if cfg.Gatherer != nil {
		o.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
			// a metric that cannot be read (the store down) must not hide the others
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	return s
}

// Ops is the operations port's handler: the control API (bearer token), /readyz,
// /metrics and /healthz. It is served on its own listener, which the election's
// NetworkPolicy opens only to the operator and Prometheus; its requests are never
// turned away by admission nor counted among the voters' requests in flight.
func (s *Server) Ops() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		s.ops.ServeHTTP(w, r)
	})
}

// ServeHTTP counts the answers by status and serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.counted.ServeHTTP(w, r) }

// serve checks where a request comes from, bounds each client address, admits
// requests by priority, counts those in flight and serves them. Every refusal on
// the way is answered at once, without reading the request's body, and closes the
// connection: a refused request costs neither memory nor a place in flight.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.inFlight.Inc()
	defer s.inFlight.Dec()
	h := w.Header()
	h["Cache-Control"] = noStoreValue
	h["X-Content-Type-Options"] = nosniffValue
	// First of all: a state-changing request a browser sends from another site
	// (Sec-Fetch-Site, Origin) is refused, before any limit or wait page could
	// answer it with something a page might send again from this site.
	if err := s.crossOrigin.Check(r); err != nil {
		s.crossSite(w, r)
		return
	}
	if p, exempt := classify(r); !exempt {
		if s.cfg.RollImported != nil && !s.cfg.RollImported() {
			s.overloaded(w, r)
			return
		}
		now := time.Now()
		addr := s.clientAddress(r)
		if ok, wait := s.voters.Allow(addr, now); !ok {
			s.votersLimited.Inc()
			s.rateLimited(w, r, wait, "many requests come from your network right now")
			return
		}
		signInStep := isSignInStep(r)
		if signInStep {
			if ok, wait := s.addresses.Allow(addr, now); !ok {
				s.limited.Inc()
				s.rateLimited(w, r, wait, "many sign-in requests come from your network right now")
				return
			}
		}
		// Places in flight, by client address and by session: a slow client
		// holds a few, however many connections it opens.
		if !s.perAddress.acquire(addr) {
			s.addressBusy.Inc()
			s.rateLimited(w, r, RetryAfterSeconds*time.Second, "many requests from your network are being served right now")
			return
		}
		defer s.perAddress.release(addr)
		if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			if !s.perSession.acquire(c.Value) {
				s.sessionBusy.Inc()
				s.rateLimited(w, r, RetryAfterSeconds*time.Second, "your session has requests under way already")
				return
			}
			defer s.perSession.release(c.Value)
		}
		if !s.admission.admit(p) {
			s.overloaded(w, r)
			return
		}
		t := &ticket{s: s, p: p, held: true}
		defer t.release()
		hasBody := r.Body != nil && r.Body != http.NoBody
		if hasBody && (signInStep || p == PriorityOther) {
			// Until its body is in, a request without a session (a sign-in
			// step, anything at the lowest priority) holds its place within
			// the share of the lowest priority, not its own.
			if !t.startReading(r) {
				s.overloaded(w, r)
				return
			}
		}
		// the engine keys its per-address budget of wrong codes as the limits above
		r = r.WithContext(engine.WithClientAddress(context.WithValue(r.Context(), ticketKey{}, t), addr))
		timeout := s.cfg.BodyReadTimeout
		if signInStep && s.cfg.SignInBodyReadTimeout > 0 {
			timeout = s.cfg.SignInBodyReadTimeout
		}
		if timeout > 0 && hasBody {
			// the whole body within the bound, however slowly it trickles
			_ = http.NewResponseController(w).SetReadDeadline(now.Add(timeout))
		}
	}
	s.mux.ServeHTTP(w, r)
}

// crossSite answers a state-changing request a browser sent from another site:
// the pages' "forbidden" page for a person, a JSON 403 otherwise. Its body is
// never read.
func (s *Server) crossSite(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	if s.cfg.Forbidden != nil && !strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/control/") {
		s.cfg.Forbidden(w, r)
		return
	}
	writeError(w, http.StatusForbidden, "cross-origin", "requests from another site are refused")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// bearer admits requests carrying the token or one of others, compared in
// constant time.
func (s *Server) bearer(token func() string, next http.HandlerFunc, others ...func() string) http.HandlerFunc {
	tokens := append([]func() string{token}, others...)
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		valid := false
		for _, t := range tokens {
			if want := t(); ok && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
				valid = true
			}
		}
		if !valid {
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
			return
		}
		next(w, r)
	}
}

// apiError is every error answer of the API.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	// Reason says why an encrypted ballot was refused: not-canonical,
	// wrong-election, unknown-credential, bad-signature, bad-proof.
	Reason string `json:"reason,omitempty"`
	// Question names the question of an invalid ballot.
	Question string `json:"question,omitempty"`
	// RetryAfterSeconds says when to try again.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// AttemptsLeft after a wrong code.
	AttemptsLeft *int `json:"attemptsLeft,omitempty"`
	// LockedUntil ends a lockout after too many wrong codes (RFC 3339).
	LockedUntil string `json:"lockedUntil,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: code, Message: message})
}

// decodeBody reads a JSON request body strictly: application/json, at most limit
// bytes, one JSON value and nothing after it. A body over the limit is refused
// from its Content-Length, unread, when the client says it.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "the request body must be JSON, with Content-Type: application/json")
		return false
	}
	if r.ContentLength > limit {
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestEntityTooLarge, "too-large", "the request body is too large")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// one value, then the end: anything after it is refused, not ignored
		if extra := dec.Decode(&json.RawMessage{}); extra != io.EOF {
			err = errors.New("trailing data after the JSON value")
		}
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "too-large", "the request body is too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad-request", "the request body is not the JSON this endpoint takes")
		return false
	}
	return true
}

// castBodyLimit bounds a cast's JSON body: 16 KiB, or twice the longest ballot
// the questions allow (every option of every question), for a client's padding.
func castBodyLimit(qs []scrutinv1.Question) int64 {
	n := 64
	for _, q := range qs {
		n += len(q.ID) + 8
		for _, o := range q.Options {
			n += len(o.ID) + 4
		}
	}
	return max(16<<10, 2*int64(n))
}

// encryptedCastBodyLimit bounds the body of an encrypted cast: per slot (an
// option, or the blank slot) a ciphertext and its proofs, about 2 KB, quoted in
// a JSON string (an escaped quote per field), per question the overall and
// blank proofs, with room to spare: 64 KiB at least.
func encryptedCastBodyLimit(qs []scrutinv1.Question) int64 {
	n := int64(4 << 10)
	for _, q := range qs {
		n += int64(len(q.Options)+1)*4<<10 + int64(q.EffectiveMaxChoices()+2)*1<<10
	}
	return max(64<<10, n)
}

// engineError maps the engine's errors to answers; anything else is logged (never
// with a secret: the engine's errors hold none) and answered 500.
func (s *Server) engineError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		resend   *engine.ResendTooSoonError
		limited  *engine.RateLimitedError
		wrong    *engine.WrongCodeError
		locked   *engine.LockedOutError
		notOpen  *engine.NotOpenYetError
		badSched *engine.InvalidScheduleError
		invalidB *ballot.Error
		badEnc   *belenios.BallotError
		badPD    *engine.InvalidDecryptionError
	)
	switch {
	case errors.Is(err, engine.ErrUnknownVoter):
		writeError(w, http.StatusNotFound, "unknown-voter", err.Error())
	case errors.Is(err, engine.ErrUnknownHolder):
		writeError(w, http.StatusUnprocessableEntity, "unknown-holder", err.Error())
	case errors.Is(err, engine.ErrNoProxies):
		writeError(w, http.StatusNotFound, "no-proxies", err.Error())
	case errors.Is(err, engine.ErrProxiesByOrganizer):
		writeError(w, http.StatusForbidden, "proxies-by-organizer", err.Error())
	case errors.Is(err, engine.ErrProxyDeadline):
		writeError(w, http.StatusConflict, "proxy-deadline", err.Error())
	case errors.Is(err, engine.ErrProxyChain):
		writeError(w, http.StatusUnprocessableEntity, "proxy-chain", err.Error())
	case errors.Is(err, engine.ErrProxyCap):
		writeError(w, http.StatusUnprocessableEntity, "proxy-cap", err.Error())
	case errors.Is(err, engine.ErrProxyGiven):
		writeError(w, http.StatusConflict, "proxy-given", err.Error())
	case errors.Is(err, engine.ErrNoProxyGiven):
		writeError(w, http.StatusConflict, "no-proxy-given", err.Error())
	case errors.Is(err, engine.ErrNoMandate):
		writeError(w, http.StatusForbidden, "no-mandate", err.Error())
	case errors.Is(err, engine.ErrVoteClosed):
		writeError(w, http.StatusConflict, "closed", err.Error())
	case errors.As(err, &notOpen):
		writeError(w, http.StatusConflict, "not-open", err.Error())
	case errors.As(err, &limited):
		writeRateLimited(w, limited.Seconds(), err.Error())
	case errors.As(err, &resend):
		secs := int(resend.RetryAfter.Seconds() + 0.999)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, http.StatusTooManyRequests, apiError{Error: "resend-too-soon", Message: err.Error(), RetryAfterSeconds: secs})
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", strconv.Itoa(locked.Seconds()))
		writeJSON(w, http.StatusTooManyRequests, apiError{Error: "locked-out", Message: err.Error(),
			RetryAfterSeconds: locked.Seconds(), LockedUntil: timeJSON(locked.Until)})
	case errors.As(err, &wrong):
		left := wrong.AttemptsLeft
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "wrong-code", Message: err.Error(), AttemptsLeft: &left})
	case errors.Is(err, engine.ErrNoPendingSignIn):
		writeError(w, http.StatusGone, "code-expired", err.Error())
	case errors.Is(err, engine.ErrSessionExpired):
		writeError(w, http.StatusUnauthorized, "session-expired", err.Error())
	case errors.Is(err, engine.ErrDeliveryBusy):
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "busy", Message: err.Error(), RetryAfterSeconds: 5})
	case errors.Is(err, engine.ErrNothingToResend):
		writeError(w, http.StatusConflict, "no-pending-sign-in", err.Error())
	case errors.Is(err, engine.ErrVotedNoReissue):
		writeError(w, http.StatusConflict, "already-voted", err.Error())
	case errors.Is(err, engine.ErrRequestedBy):
		writeError(w, http.StatusBadRequest, "requested-by", err.Error())
	case errors.Is(err, engine.ErrNoChannel):
		writeError(w, http.StatusUnprocessableEntity, "no-channel", err.Error())
	case errors.Is(err, engine.ErrAlreadyVoted):
		writeError(w, http.StatusConflict, "already-voted", err.Error())
	case errors.Is(err, engine.ErrNotClosed):
		writeError(w, http.StatusConflict, "not-closed", err.Error())
	case errors.Is(err, engine.ErrNotTallied):
		writeError(w, http.StatusConflict, "not-tallied", err.Error())
	case errors.As(err, &badSched):
		writeError(w, http.StatusBadRequest, "invalid-schedule", err.Error())
	case errors.As(err, &badEnc):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "invalid-ballot", Reason: badEnc.Reason, Message: badEnc.Message})
	case errors.Is(err, engine.ErrEncryptedOnly):
		writeError(w, http.StatusUnprocessableEntity, "encrypted-ballots-only", err.Error())
	case errors.Is(err, engine.ErrNotVerifiable):
		writeError(w, http.StatusNotFound, "not-verifiable", err.Error())
	case errors.Is(err, engine.ErrBoardNotReady):
		writeError(w, http.StatusConflict, "not-open", err.Error())
	case errors.Is(err, engine.ErrTallyNotReady):
		writeError(w, http.StatusTooEarly, "no-tally-yet", err.Error())
	case errors.Is(err, engine.ErrDecryptionRecorded):
		writeError(w, http.StatusConflict, "already-recorded", err.Error())
	case errors.Is(err, engine.ErrUnknownTrustee):
		writeError(w, http.StatusNotFound, "unknown-trustee", err.Error())
	case errors.As(err, &badPD):
		writeError(w, http.StatusUnprocessableEntity, "invalid-partial-decryption", err.Error())
	case errors.Is(err, engine.ErrBallotOnBoard):
		writeError(w, http.StatusConflict, "ballot-on-board", err.Error())
	case errors.Is(err, engine.ErrCredentialFixed):
		writeError(w, http.StatusConflict, "credential-fixed", err.Error())
	case errors.As(err, &invalidB):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "invalid-ballot", Message: err.Error(), Question: invalidB.Question})
	default:
		s.log.Error("Request failed", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "something went wrong on our side; your session is kept, try again")
	}
}

// timeJSON formats a time for the API.
func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }
