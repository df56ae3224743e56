// Package engine holds every rule of a vote in the voting-runtime: who may sign in
// and how, how long codes and sessions live, when ballots are accepted, how they are
// cast, closed, counted and audited. The JSON API and the pages are thin layers over
// it, so both follow the same rules through the same code.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/ratelimit"
	"scrutin.dev/scrutin/voting-runtime/store"
)

// Config is everything an Engine runs on: its own election and nothing shared.
type Config struct {
	Election *scrutinv1.Election
	Store    store.Store
	Hasher   auth.Hasher
	// Mail and SMS deliver codes and credentials; nil when the election has no such
	// channel.
	Mail, SMS *delivery.Queue
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
	// Registerer receives the engine's metrics (none when nil).
	Registerer prometheus.Registerer
	// VoterBurst sign-in steps (a code asked for, a code or credential tried) a
	// voter may take at once, then one more every VoterEvery; past them the engine
	// answers RateLimitedError before reading the store, so that a flood aimed at
	// one voter reaches neither the store nor the other voters. Zero: 10 at once,
	// then one every 3 s (a person asking, resending twice and mistyping the code
	// five times stays under it); a negative VoterBurst: no limit.
	VoterBurst int
	VoterEvery time.Duration
}

// Engine runs one election.
type Engine struct {
	e       *scrutinv1.Election
	st      store.Store
	hasher  auth.Hasher
	mail    *delivery.Queue
	sms     *delivery.Queue
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	voters  *ratelimit.Keyed
}

// New returns an Engine for cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Election == nil || cfg.Store == nil {
		return nil, errors.New("engine: an election and a store are required")
	}
	en := &Engine{
		e: cfg.Election, st: cfg.Store, hasher: cfg.Hasher, mail: cfg.Mail, sms: cfg.SMS,
		now: cfg.Now, log: cfg.Log, metrics: newMetrics(cfg.Registerer),
	}
	if en.now == nil {
		en.now = time.Now
	}
	burst, every := cfg.VoterBurst, cfg.VoterEvery
	if burst == 0 {
		burst = 10
	}
	if every <= 0 {
		every = 3 * time.Second
	}
	en.voters = ratelimit.New(rate.Every(every), burst)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(&sessionsCollector{en: en, desc: prometheus.NewDesc(
			"scrutin_active_sessions", "Voters' sessions active within the idle timeout.", nil, nil)})
	}
	if en.log == nil {
		en.log = slog.Default()
	}
	return en, nil
}

// Election is the election the engine runs.
func (en *Engine) Election() *scrutinv1.Election { return en.e }

// Phase of the vote as voters see it.
type Phase string

const (
	NotYetOpen Phase = "NotYetOpen"
	Open       Phase = "Open"
	Closed     Phase = "Closed"
)

// Phase is decided by the election's own schedule, whatever any controller does:
// nobody can keep the vote open past closesAt or open it before opensAt.
func (en *Engine) Phase() Phase {
	now := en.now()
	switch {
	case now.Before(en.e.Spec.Schedule.OpensAt.Time):
		return NotYetOpen
	case now.Before(en.e.Spec.Schedule.ClosesAt.Time):
		return Open
	default:
		return Closed
	}
}

// Status is what the controller reads while the vote goes on.
type Status struct {
	Open        bool   `json:"open"`
	Voters      int64  `json:"voters"`
	BallotsCast int64  `json:"ballotsCast"`
	AuditHead   string `json:"auditHead"`
}

// Status reads the counts and the audit head.
func (en *Engine) Status(ctx context.Context) (Status, error) {
	voters, cast, err := en.st.Counts(ctx)
	if err != nil {
		return Status{}, err
	}
	head, err := en.st.AuditHead(ctx)
	if err != nil {
		return Status{}, err
	}
	return Status{Open: en.Phase() == Open, Voters: voters, BallotsCast: cast, AuditHead: head}, nil
}

// Run opens and closes the vote on schedule until ctx ends: at opensAt it records
// the opening, at closesAt it closes and counts. Several replicas may run it; each
// step happens once.
func (en *Engine) Run(ctx context.Context) {
	for {
		var next time.Time
		switch en.Phase() {
		case NotYetOpen:
			next = en.e.Spec.Schedule.OpensAt.Time
		case Open:
			if err := en.Open(ctx); err != nil {
				en.log.Error("Could not record the opening", "error", err)
			}
			next = en.e.Spec.Schedule.ClosesAt.Time
		case Closed:
			if err := en.Close(ctx); err != nil {
				en.log.Error("Could not close and count", "error", err)
				next = en.now().Add(5 * time.Second)
				break
			}
			return
		}
		wait := max(next.Sub(en.now()), 10*time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// errorf wraps a store error with what was being done.
func errorf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("while %s: %w", what, err)
}
