// Package server is the voting-runtime's HTTP face: the JSON API for machine
// clients under /api/v1, the controller's control API under /control/v1, the
// scrutineers' export, health, readiness and metrics. Every rule lives in the engine;
// this package maps requests to it and its errors to answers.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"scrutin.dev/scrutin/voting-runtime/ballot"
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
	// ClientIPHeader names a header whose last address (appended by the proxy) is the client's (such as
	// X-Forwarded-For); empty: the connection's address. Only behind a proxy that
	// sets it: anyone else can write any address in it.
	ClientIPHeader string
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
	mux       *http.ServeMux
}

// New builds the server's routes.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, en: cfg.Engine, log: cfg.Log, mux: http.NewServeMux()}
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
	m := s.mux
	m.HandleFunc("POST /api/v1/sign-in", s.signIn)
	m.HandleFunc("POST /api/v1/sign-in/code", s.signInCode)
	m.HandleFunc("POST /api/v1/session/extend", s.withSession(s.extendSession))
	m.HandleFunc("POST /api/v1/sign-out", s.signOut)
	m.HandleFunc("GET /api/v1/ballot", s.withSession(s.getBallot))
	m.HandleFunc("POST /api/v1/ballot", s.withSession(s.postBallot))
	m.HandleFunc("GET /api/v1/board", s.board)
	m.HandleFunc("GET /api/v1/results", s.results)
	m.HandleFunc("GET /api/v1/scrutineer/participation.csv", s.bearer(func() string { return cfg.ScrutineerToken }, s.participation))
	m.HandleFunc("GET /control/v1/status", s.bearer(func() string { return cfg.ControlToken }, s.controlStatus))
	m.HandleFunc("POST /control/v1/open", s.bearer(func() string { return cfg.ControlToken }, s.controlOpen))
	m.HandleFunc("POST /control/v1/close", s.bearer(func() string { return cfg.ControlToken }, s.controlClose))
	m.HandleFunc("POST /control/v1/schedule", s.bearer(func() string { return cfg.ControlToken }, s.controlSchedule))
	m.HandleFunc("GET /control/v1/results", s.bearer(func() string { return cfg.ControlToken }, s.controlResults))
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	m.HandleFunc("GET /readyz", s.readyz)
	if cfg.Gatherer != nil {
		m.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
			// a metric that cannot be read (the store down) must not hide the others
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	if cfg.Pages != nil {
		m.Handle("/", cfg.Pages)
	}
	return s
}

// ServeHTTP counts the answers by status and serves the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.counted.ServeHTTP(w, r) }

// serve admits requests by priority, counts those in flight and serves them.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.inFlight.Inc()
	defer s.inFlight.Dec()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p, exempt := classify(r); !exempt {
		if isSignInStep(r) {
			if ok, wait := s.addresses.Allow(s.clientAddress(r), time.Now()); !ok {
				s.limited.Inc()
				s.rateLimited(w, r, wait, "many sign-in requests come from your network right now")
				return
			}
		}
		if !s.admission.admit(p) {
			s.overloaded(w, r)
			return
		}
		defer s.admission.done()
	}
	s.mux.ServeHTTP(w, r)
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

// bearer admits requests carrying the token, compared in constant time.
func (s *Server) bearer(token func() string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := token()
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if want == "" || !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
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
	// Question names the question of an invalid ballot.
	Question string `json:"question,omitempty"`
	// RetryAfterSeconds says when to try again.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// AttemptsLeft after a wrong code.
	AttemptsLeft *int `json:"attemptsLeft,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: code, Message: message})
}

// decodeBody reads a small JSON request body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad-request", "the request body is not the JSON this endpoint takes")
		return false
	}
	return true
}

// engineError maps the engine's errors to answers; anything else is logged (never
// with a secret: the engine's errors hold none) and answered 500.
func (s *Server) engineError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		resend   *engine.ResendTooSoonError
		limited  *engine.RateLimitedError
		wrong    *engine.WrongCodeError
		notOpen  *engine.NotOpenYetError
		badSched *engine.InvalidScheduleError
		invalidB *ballot.Error
	)
	switch {
	case errors.Is(err, engine.ErrUnknownVoter):
		writeError(w, http.StatusNotFound, "unknown-voter", err.Error())
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
	case errors.As(err, &wrong):
		left := wrong.AttemptsLeft
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "wrong-code", Message: err.Error(), AttemptsLeft: &left})
	case errors.Is(err, engine.ErrTooManyAttempts):
		writeError(w, http.StatusTooManyRequests, "too-many-attempts", err.Error())
	case errors.Is(err, engine.ErrNoPendingSignIn):
		writeError(w, http.StatusGone, "code-expired", err.Error())
	case errors.Is(err, engine.ErrSessionExpired):
		writeError(w, http.StatusUnauthorized, "session-expired", err.Error())
	case errors.Is(err, engine.ErrDeliveryBusy):
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "busy", Message: err.Error(), RetryAfterSeconds: 5})
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
	case errors.As(err, &invalidB):
		writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: "invalid-ballot", Message: err.Error(), Question: invalidB.Question})
	default:
		s.log.Error("Request failed", "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "something went wrong on our side; your session is kept, try again")
	}
}

// timeJSON formats a time for the API.
func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }
