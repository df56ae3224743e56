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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/internal/contract"
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
	// Outbox delivers codes and credential letters through the store (mail, SMS,
	// the channels it has senders for); nil: nothing can be sent.
	Outbox *delivery.Outbox
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
	// AddressWrongCodes wrong codes (or credentials) a client address (an IPv6
	// /64, see ClientAddress) may try across all voters, then one more every
	// AddressWrongCodeEvery; past them its tries are refused without being checked
	// or counted against any voter. Zero: 30 at once, then one every 2 minutes (30
	// an hour); negative: no limit. Held in memory by each replica.
	AddressWrongCodes     int
	AddressWrongCodeEvery time.Duration
	// Verifiable configures the verifiable mode (spec.verifiability.mode:
	// Belenios): the platform trustee's key, the tenant's public credentials.
	Verifiable Verifiable
	// PublicURL is where voters reach the election (https://host/), written in
	// their letters; empty: the letters name no address.
	PublicURL string
	// VoterCache is how many voters the engine keeps in memory once the roll is
	// frozen by a first ballot (see voterCache). Zero: 100,000; negative: none,
	// every read goes to the store.
	VoterCache int
}

type clientAddressKey struct{}

// WithClientAddress is ctx carrying the client's address, as the server keys its
// per-address limits (an IPv6 client by its /64).
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// ClientAddress is the client address ctx carries, "" when none.
func ClientAddress(ctx context.Context) string {
	a, _ := ctx.Value(clientAddressKey{}).(string)
	return a
}

// Engine runs one election.
type Engine struct {
	e         *scrutinv1.Election
	publicURL string
	st        store.Store
	hasher    auth.Hasher
	outbox    *delivery.Outbox
	now       func() time.Time
	log       *slog.Logger
	metrics   *metrics
	voters    *ratelimit.Keyed
	// voterCache keeps the frozen roll's voters the hot path reads.
	voterCache *voterCache
	// encryptedCasts is each voter's budget of encrypted ballots: checking one
	// costs tens of milliseconds of CPU, refused or not.
	encryptedCasts *ratelimit.Keyed
	// wrongCodes is each client address's budget of wrong codes.
	wrongCodes *ratelimit.Budget

	// box is the store's state as last read (schedule, close), for pages and
	// fast refusals only: every cast and the close are decided by the store.
	boxMu   sync.Mutex
	box     store.State
	boxRead time.Time // by the process's clock, time.Now (zero: read again)
	// wake tells Run that the schedule may have moved.
	wake chan struct{}
	// vf is the verifiable mode's state.
	vf *verifiableState
}

// A voter may send encryptedCastBurst encrypted ballots at once (a vote, a
// retry, a few re-votes), then one every encryptedCastEvery: one signed-in
// session cannot keep the pod's cores busy checking proofs of ballots it
// makes up.
const (
	encryptedCastBurst = 10
	encryptedCastEvery = 6 * time.Second
)

// boxCache is how long the store's state read for pages is reused.
const boxCache = time.Second

// scheduleRecheck is how often Run reads the store's schedule, which any replica
// (or the controller, through any replica) may move.
const scheduleRecheck = 2 * time.Second

// New returns an Engine for cfg.
func New(cfg Config) (*Engine, error) {
	if cfg.Election == nil || cfg.Store == nil {
		return nil, errors.New("engine: an election and a store are required")
	}
	en := &Engine{
		e: cfg.Election, st: cfg.Store, hasher: cfg.Hasher, outbox: cfg.Outbox,
		now: cfg.Now, log: cfg.Log, metrics: newMetrics(cfg.Registerer), wake: make(chan struct{}, 1),
		vf: &verifiableState{cfg: cfg.Verifiable}, publicURL: cfg.PublicURL,
		voterCache: newVoterCache(cfg.VoterCache),
	}
	if PlatformTrustee(cfg.Election) && cfg.Verifiable.TrusteeKey == nil {
		return nil, errors.New("engine: the platform is a trustee of this verifiable election and has no key")
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
	en.encryptedCasts = ratelimit.New(rate.Every(encryptedCastEvery), encryptedCastBurst)
	codes, codeEvery := cfg.AddressWrongCodes, cfg.AddressWrongCodeEvery
	if codes == 0 {
		codes = 30
	}
	if codeEvery <= 0 {
		codeEvery = 2 * time.Minute
	}
	en.wrongCodes = ratelimit.NewBudget(codes, codeEvery)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(&sessionsCollector{en: en, desc: prometheus.NewDesc(
			"scrutin_active_sessions", "Voters' sessions active within the idle timeout.", nil, nil)})
	}
	if en.log == nil {
		en.log = slog.Default()
	}
	if en.outbox != nil {
		en.outbox.SetFailedHook(en.deliveryFailed)
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

// Phase is decided by the schedule recorded in the store, which every replica
// shares (see RecordSchedule), and by the store's recorded close: nobody can keep
// the vote open past closesAt or open it before opensAt. For pages it reads the
// store at most once a second; a cast and the close are decided by the store
// itself, in their own transactions.
func (en *Engine) Phase() Phase {
	return en.phaseOf(en.state(context.Background(), false), en.now())
}

// phaseOf is the phase st gives at now.
func (en *Engine) phaseOf(st store.State, now time.Time) Phase {
	if st.Closed {
		return Closed
	}
	sc := en.scheduleOf(st)
	switch {
	case now.Before(sc.OpensAt):
		return NotYetOpen
	case now.Before(sc.ClosesAt):
		return Open
	default:
		return Closed
	}
}

// Schedule is the schedule the store records (read at most once a second), the
// one voters are shown; the election file's until the store holds one.
func (en *Engine) Schedule() store.Schedule {
	return en.scheduleOf(en.state(context.Background(), false))
}

func (en *Engine) scheduleOf(st store.State) store.Schedule {
	if st.Schedule.IsZero() {
		return en.FileSchedule()
	}
	return st.Schedule
}

// FileSchedule is the schedule of the election the engine was started with, its
// version the Election's metadata.generation (1 when the file has none).
func (en *Engine) FileSchedule() store.Schedule {
	return ScheduleOf(en.e)
}

// ScheduleOf is an Election's schedule as the store records it: its version is
// the Election's metadata.generation (which the controller writes into the
// runtime's election file), 1 when the file has none (a local run).
func ScheduleOf(e *scrutinv1.Election) store.Schedule {
	return store.Schedule{OpensAt: e.Spec.Schedule.OpensAt.UTC(), ClosesAt: e.Spec.Schedule.ClosesAt.UTC(),
		Version: max(e.Generation, 1)}
}

// RecordSchedule offers sc to the store, which records it only if its version is
// newer than the one it holds and the box is not closed (ErrVoteClosed then). It
// reports whether sc was recorded. The election file's schedule (at start and
// whenever the mounted file changes) and the controller (POST
// /control/v1/schedule) both come through here.
func (en *Engine) RecordSchedule(ctx context.Context, sc store.Schedule) (bool, error) {
	if err := sc.Validate(); err != nil {
		return false, &InvalidScheduleError{err}
	}
	applied, err := en.st.SetSchedule(ctx, sc)
	en.forget()
	if errors.Is(err, store.ErrClosed) {
		return false, ErrVoteClosed
	}
	if err != nil {
		return false, errorf("recording the schedule", err)
	}
	if applied {
		en.log.Info("Schedule recorded", "opensAt", sc.OpensAt.UTC(), "closesAt", sc.ClosesAt.UTC(), "version", sc.Version)
	}
	return applied, nil
}

// InvalidScheduleError: a schedule that cannot be recorded.
type InvalidScheduleError struct{ Err error }

func (e *InvalidScheduleError) Error() string { return "invalid schedule: " + e.Err.Error() }

// state is the store's state, read again when older than boxCache (or when fresh
// is asked for). A store with no schedule yet is given the election file's. When
// the store cannot be read, the last state read is used.
func (en *Engine) state(ctx context.Context, fresh bool) store.State {
	en.boxMu.Lock()
	defer en.boxMu.Unlock()
	if !fresh && !en.boxRead.IsZero() && time.Since(en.boxRead) < boxCache {
		return en.box
	}
	st, err := en.st.State(ctx)
	if err == nil && st.Schedule.IsZero() {
		if _, err = en.st.SetSchedule(ctx, en.FileSchedule()); err == nil || errors.Is(err, store.ErrClosed) {
			st, err = en.st.State(ctx)
		}
	}
	if err != nil {
		en.log.Error("Could not read the ballot box's state", "error", err)
		return en.box
	}
	en.box, en.boxRead = st, time.Now()
	return st
}

// forget drops the cached state and wakes Run: the schedule or the close moved.
func (en *Engine) forget() {
	en.boxMu.Lock()
	en.boxRead = time.Time{}
	en.boxMu.Unlock()
	select {
	case en.wake <- struct{}{}:
	default:
	}
}

// Status is what the controller reads while the vote goes on, with the schedule
// the store records (so that the controller sees whether its latest reached it).
// Opened, Closed and Tallied are what the store recorded, whoever did it (this
// runtime on its own schedule, or the controller's nudge): the controller rebuilds
// the election's phase from them, even after missing the whole window.
//
// It is the control API's RuntimeStatus (internal/contract), without Delivery,
// which the server adds.
type Status = contract.RuntimeStatus

// Status reads the counts, the audit head and the store's schedule.
func (en *Engine) Status(ctx context.Context) (Status, error) {
	voters, cast, err := en.st.Counts(ctx)
	if err != nil {
		return Status{}, err
	}
	head, err := en.st.AuditHead(ctx)
	if err != nil {
		return Status{}, err
	}
	st := en.state(ctx, true)
	out := Status{Open: en.phaseOf(st, en.now()) == Open, Opened: st.Opened, Closed: st.Closed, Tallied: st.Results != nil, Voters: voters, BallotsCast: cast, AuditHead: head,
		ScheduleVersion: st.Schedule.Version}
	if !st.Schedule.IsZero() {
		out.OpensAt = st.Schedule.OpensAt.UTC().Format(time.RFC3339)
		out.ClosesAt = st.Schedule.ClosesAt.UTC().Format(time.RFC3339)
	}
	return out, nil
}

// Run opens and closes the vote on the schedule the store records, until ctx
// ends: at opensAt it records the opening, at closesAt it closes and counts. It
// reads the store's schedule every few seconds (another replica, or the
// controller, may move it) and at once when this process moves it. Several
// replicas may run it; each step happens once, and the store refuses a close
// before its own recorded closesAt.
func (en *Engine) Run(ctx context.Context) {
	for {
		st := en.state(ctx, true)
		now := en.now()
		sc := en.scheduleOf(st)
		wait := scheduleRecheck
		switch en.phaseOf(st, now) {
		case NotYetOpen:
			wait = min(wait, sc.OpensAt.Sub(now))
		case Open:
			if !st.Opened {
				if err := en.Open(ctx); err != nil {
					en.log.Error("Could not record the opening", "error", err)
				}
			}
			wait = min(wait, sc.ClosesAt.Sub(now))
		case Closed:
			err := en.Close(ctx)
			if err == nil {
				return
			}
			if errors.Is(err, ErrNotClosed) {
				// the store's clock is behind ours, or the schedule moved
				wait = 200 * time.Millisecond
				break
			}
			en.log.Error("Could not close and count", "error", err)
			wait = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-en.wake:
		case <-time.After(max(wait, 10*time.Millisecond)):
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
