package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// ErrQueueFull: the buffer is full; nothing was queued. Show the voter a
	// "try again in a moment" page.
	ErrQueueFull = errors.New("delivery: the queue is full, try again in a moment")
	// ErrClosed: the queue is closing or closed; nothing was queued.
	ErrClosed = errors.New("delivery: the queue is closed")
	// ErrExpired: the deadline given to Enqueue has already passed; nothing was
	// queued.
	ErrExpired = errors.New("delivery: the message's deadline has already passed")
	// ErrNoRecipient: the message has no To.
	ErrNoRecipient = errors.New("delivery: the message has no recipient")
)

// Queue defaults.
const (
	DefaultWorkers         = 8
	DefaultBuffer          = 2048
	DefaultInitialBackoff  = time.Second
	DefaultMaxBackoff      = 60 * time.Second
	DefaultAttemptTimeout  = 2 * time.Minute
	DefaultValidity        = 10 * time.Minute
	DefaultStatusRetention = 24 * time.Hour
)

// closeGrace is how long Close waits, once its context has ended and it has
// cancelled the work under way, for the workers to record the outcome.
const closeGrace = time.Second

// Clock is the time as the queue sees it; tests may pass a fake one.
type Clock interface {
	Now() time.Time
	// After sends the time on the returned channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// QueueOptions configure a Queue. Only Channel is required.
type QueueOptions struct {
	// Workers send in parallel; default DefaultWorkers.
	Workers int
	// Buffer is how many messages may be accepted and not yet finished (waiting,
	// being sent or waiting to be retried); Enqueue returns ErrQueueFull beyond.
	// Default DefaultBuffer.
	Buffer int
	// Channel names the queue in metrics and logs: "mail" or "sms".
	Channel string
	// Registerer receives the queue's metrics when not nil.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Clock defaults to the real time.
	Clock Clock

	// InitialBackoff is the wait before the first retry (default 1 s); it doubles
	// at each retry up to MaxBackoff (default 60 s). Each wait is drawn at random
	// between half and all of that value, and is never shorter than the
	// Retry-After the server asked for.
	InitialBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one Send, on top of the sender's own timeout and of the
	// deadline; default DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// DefaultValidity is the deadline, from now, of a message enqueued with a zero
	// deadline; default DefaultValidity (10 minutes, the longest code validity).
	DefaultValidity time.Duration
	// StatusRetention is how long Status remembers a finished delivery; default
	// DefaultStatusRetention.
	StatusRetention time.Duration
}

// State of a voter's latest delivery.
type State int

const (
	// Unknown: no message for that voter (or too long ago).
	Unknown State = iota
	// Pending: queued, being sent, or waiting to be retried.
	Pending
	// Sent: the mail server or the SMS gateway accepted the message.
	Sent
	// Failed: given up, permanently refused or expired; Status.Reason says why.
	Failed
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Sent:
		return "sent"
	case Failed:
		return "failed"
	default:
		return "unknown"
	}
}

// Status of a voter's latest delivery.
type Status struct {
	State State
	// At is when the message was queued (Pending), accepted (Sent) or given up
	// (Failed).
	At time.Time
	// Attempts made so far.
	Attempts int
	// Reason, in plain words without the code or the recipient: why it failed
	// (Failed), or the last temporary failure (Pending, while retrying).
	Reason string
	// Expired: Failed because the deadline passed before the message got through.
	Expired bool
}

// Queue delivers messages in the background. Its methods are safe for concurrent
// use.
type Queue struct {
	sender          Sender
	channel         string
	log             *slog.Logger
	clock           Clock
	buffer          int
	initialBackoff  time.Duration
	maxBackoff      time.Duration
	attemptTimeout  time.Duration
	defaultValidity time.Duration
	retention       time.Duration
	m               queueMetrics

	ready   chan *job // never blocks: holds at most pending ≤ buffer jobs
	ctx     context.Context
	cancel  context.CancelFunc
	quit    chan struct{}
	done    chan struct{}
	workers sync.WaitGroup
	waits   sync.WaitGroup

	closeOnce sync.Once

	mu            sync.Mutex
	closed        bool
	pending       int
	seq           uint64
	status        map[string]*statusEntry
	drained       chan struct{} // closed once closed and pending == 0
	drainedClosed bool
	space         chan struct{} // closed (and replaced) when a slot frees up
	spaceWaiters  int
	sinceSweep    int
}

type job struct {
	m        Message
	seq      uint64
	enqueued time.Time
	deadline time.Time
	attempts int
}

type statusEntry struct {
	seq uint64
	st  Status
}

// NewQueue starts opts.Workers workers sending through s. It panics when s is nil,
// when opts.Channel is empty, or when opts.Registerer already holds other metrics
// under the queue's metric names (a programming error, found at start-up).
func NewQueue(s Sender, opts QueueOptions) *Queue {
	if s == nil {
		panic("delivery: NewQueue needs a Sender")
	}
	if opts.Channel == "" {
		panic("delivery: QueueOptions.Channel is required (\"mail\" or \"sms\")")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	def(&opts.InitialBackoff, DefaultInitialBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	def(&opts.AttemptTimeout, DefaultAttemptTimeout)
	def(&opts.DefaultValidity, DefaultValidity)
	def(&opts.StatusRetention, DefaultStatusRetention)
	if opts.MaxBackoff < opts.InitialBackoff {
		opts.MaxBackoff = opts.InitialBackoff
	}

	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{
		sender:          s,
		channel:         opts.Channel,
		log:             opts.Logger.With(slog.String("channel", opts.Channel)),
		clock:           opts.Clock,
		buffer:          opts.Buffer,
		initialBackoff:  opts.InitialBackoff,
		maxBackoff:      opts.MaxBackoff,
		attemptTimeout:  opts.AttemptTimeout,
		defaultValidity: opts.DefaultValidity,
		retention:       opts.StatusRetention,
		m:               newQueueMetrics(opts.Registerer, opts.Channel),
		ready:           make(chan *job, opts.Buffer),
		ctx:             ctx,
		cancel:          cancel,
		quit:            make(chan struct{}),
		done:            make(chan struct{}),
		status:          map[string]*statusEntry{},
		drained:         make(chan struct{}),
		space:           make(chan struct{}),
	}
	q.workers.Add(opts.Workers)
	for range opts.Workers {
		go q.worker()
	}
	return q
}

// Enqueue queues m for delivery before deadline, the end of its code's validity
// (a zero deadline means QueueOptions.DefaultValidity from now). It never waits on
// the network nor on a free slot: it returns ErrQueueFull at once when the buffer
// is full, ErrExpired when deadline has passed, ErrClosed once Close was called.
// The voter's Status becomes Pending.
func (q *Queue) Enqueue(m Message, deadline time.Time) error {
	_, err := q.enqueue(m, deadline, false)
	return err
}

// EnqueueWait is Enqueue for batch work (credential letters after a roll import),
// never for a voter's request: when the buffer is full it waits for a free slot,
// until ctx ends.
func (q *Queue) EnqueueWait(ctx context.Context, m Message, deadline time.Time) error {
	for {
		space, err := q.enqueue(m, deadline, true)
		if space == nil {
			return err
		}
		select {
		case <-space:
		case <-ctx.Done():
		}
		q.mu.Lock()
		q.spaceWaiters--
		q.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// enqueue queues m. When the buffer is full and wait is set, it returns a channel
// closed when a slot frees up (the caller then owns one spaceWaiters count).
func (q *Queue) enqueue(m Message, deadline time.Time, wait bool) (<-chan struct{}, error) {
	if m.To == "" {
		return nil, ErrNoRecipient
	}
	now := q.clock.Now()
	if deadline.IsZero() {
		deadline = now.Add(q.defaultValidity)
	}
	if !now.Before(deadline) {
		q.m.rejected(rejectExpired)
		q.log.LogAttrs(context.Background(), slog.LevelWarn, "delivery not queued: deadline already passed",
			slog.String("voter", m.VoterID), slog.String("outcome", "rejected"))
		return nil, ErrExpired
	}

	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		q.m.rejected(rejectClosed)
		q.log.LogAttrs(context.Background(), slog.LevelWarn, "delivery not queued: queue closed",
			slog.String("voter", m.VoterID), slog.String("outcome", "rejected"))
		return nil, ErrClosed
	}
	if q.pending >= q.buffer {
		if wait {
			q.spaceWaiters++
			space := q.space
			q.mu.Unlock()
			return space, ErrQueueFull
		}
		q.mu.Unlock()
		q.m.rejected(rejectFull)
		q.log.LogAttrs(context.Background(), slog.LevelWarn, "delivery not queued: queue full",
			slog.String("voter", m.VoterID), slog.String("outcome", "rejected"))
		return nil, ErrQueueFull
	}
	q.pending++
	q.m.depth.Inc()
	q.seq++
	j := &job{m: m, seq: q.seq, enqueued: now, deadline: deadline}
	if m.VoterID != "" {
		q.status[m.VoterID] = &statusEntry{seq: j.seq, st: Status{State: Pending, At: now}}
	}
	q.sweepLocked(now)
	q.mu.Unlock()

	q.ready <- j // cannot block: len(ready) ≤ pending ≤ buffer = cap(ready)
	q.log.LogAttrs(context.Background(), slog.LevelDebug, "delivery queued",
		slog.String("voter", m.VoterID), slog.String("outcome", "queued"), slog.Time("deadline", deadline))
	return nil, nil
}

// sweepLocked forgets, now and then, the statuses of deliveries finished longer
// than the retention ago.
func (q *Queue) sweepLocked(now time.Time) {
	q.sinceSweep++
	if q.sinceSweep < 1024 {
		return
	}
	q.sinceSweep = 0
	for id, e := range q.status {
		if e.st.State != Pending && now.Sub(e.st.At) > q.retention {
			delete(q.status, id)
		}
	}
}

// Status is the state of the latest message queued for voterID.
func (q *Queue) Status(voterID string) Status {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e := q.status[voterID]; e != nil {
		return e.st
	}
	return Status{State: Unknown}
}

// Pending is how many messages are accepted and not yet finished.
func (q *Queue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Close stops accepting messages and waits until every accepted one is finished
// (sent, failed or expired, retries included) or ctx ends. When ctx ends first it
// cancels the sends and retries under way, marks the undelivered messages Failed,
// and returns an error wrapping ctx.Err(). Close may be called more than once.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		q.log.LogAttrs(context.Background(), slog.LevelInfo, "delivery queue closing", slog.Int("pending", q.pending))
		if q.pending == 0 {
			q.closeDrainedLocked()
		}
		q.wakeWaitersLocked()
	}
	q.mu.Unlock()
	q.closeOnce.Do(func() {
		go func() {
			<-q.drained
			close(q.quit)
			q.workers.Wait()
			q.waits.Wait()
			q.cancel()
			close(q.done)
		}()
	})

	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
	}
	left := q.Pending()
	q.cancel()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-q.done:
	case <-t.C:
	}
	return fmt.Errorf("delivery: closed with %d %s messages not delivered: %w", left, q.channel, ctx.Err())
}

func (q *Queue) closeDrainedLocked() {
	if !q.drainedClosed {
		q.drainedClosed = true
		close(q.drained)
	}
}

func (q *Queue) wakeWaitersLocked() {
	if q.spaceWaiters > 0 {
		close(q.space)
		q.space = make(chan struct{})
	}
}

func (q *Queue) worker() {
	defer q.workers.Done()
	for {
		select {
		case j := <-q.ready:
			q.process(j)
		case <-q.quit:
			return
		}
	}
}

const stoppedReason = "not delivered: the delivery service stopped"

// process makes one attempt at j and then finishes it or schedules its retry.
func (q *Queue) process(j *job) {
	if q.ctx.Err() != nil {
		q.finish(j, resultFailed, stoppedReason, false)
		return
	}
	now := q.clock.Now()
	left := j.deadline.Sub(now)
	if left <= 0 {
		q.finish(j, resultExpired, expiredReason(j, ""), true)
		return
	}
	j.attempts++
	actx, cancel := context.WithTimeout(q.ctx, min(q.attemptTimeout, left))
	err := q.send(actx, j.m)
	cancel()
	now = q.clock.Now()

	if err == nil {
		q.m.attempt(outcomeAccepted)
		q.m.seconds.Observe(now.Sub(j.enqueued).Seconds())
		q.finish(j, resultSent, "", false)
		return
	}
	reason := reasonOf(err, j.m)
	if IsPermanent(err) {
		q.m.attempt(outcomePermanent)
		q.finish(j, resultFailed, reason, false)
		return
	}
	q.m.attempt(outcomeTemporary)
	if q.ctx.Err() != nil {
		q.finish(j, resultFailed, stoppedReason+" (last error: "+reason+")", false)
		return
	}
	wait := q.backoff(j.attempts)
	if ra := retryAfter(err); ra > 0 {
		// never sooner than asked; a little later, so that the messages the
		// gateway pushed back all at once do not come back all at once
		if ra += rand.N(ra/10 + 1); ra > wait {
			wait = ra
		}
	}
	if !now.Add(wait).Before(j.deadline) {
		q.finish(j, resultExpired, expiredReason(j, reason), true)
		return
	}

	q.mu.Lock()
	if e := q.status[j.m.VoterID]; e != nil && e.seq == j.seq {
		e.st.Attempts, e.st.Reason = j.attempts, "retrying: "+reason
	}
	q.waits.Add(1) // before pending can reach 0: j is still pending
	q.mu.Unlock()
	q.log.LogAttrs(context.Background(), slog.LevelWarn, "delivery attempt failed, will retry",
		slog.String("voter", j.m.VoterID), slog.String("outcome", outcomeTemporary),
		slog.Int("attempt", j.attempts), slog.String("reason", reason), slog.Duration("retry_in", wait))
	go func() {
		defer q.waits.Done()
		select {
		case <-q.clock.After(wait):
			q.ready <- j
		case <-q.ctx.Done():
			q.finish(j, resultFailed, stoppedReason+" (last error: "+reason+")", false)
		}
	}()
}

func expiredReason(j *job, last string) string {
	s := "not delivered before the code expired"
	if j.attempts == 0 {
		s += " (never tried: the queue was too long)"
	} else if last != "" {
		s += fmt.Sprintf(" (%d attempts, last error: %s)", j.attempts, last)
	}
	return s
}

// send calls the sender; a panic becomes a permanent failure instead of killing
// the process (its value is not logged: it could hold the message).
func (q *Queue) send(ctx context.Context, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			q.log.LogAttrs(context.Background(), slog.LevelError, "delivery sender panicked",
				slog.String("voter", m.VoterID), slog.String("panic_type", fmt.Sprintf("%T", r)))
			err = permanent("the sender failed unexpectedly")
		}
	}()
	return q.sender.Send(ctx, m)
}

// backoff is the wait before retry number n (n ≥ 1): InitialBackoff doubled n-1
// times, capped at MaxBackoff, drawn at random between half and all of it.
func (q *Queue) backoff(n int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < n && d < q.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, q.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// finish records j's outcome.
func (q *Queue) finish(j *job, result, reason string, expired bool) {
	now := q.clock.Now()
	q.mu.Lock()
	q.pending--
	q.m.depth.Dec()
	if e := q.status[j.m.VoterID]; e != nil && e.seq == j.seq {
		st := Status{State: Sent, At: now, Attempts: j.attempts}
		if result != resultSent {
			st.State, st.Reason, st.Expired = Failed, reason, expired
		}
		e.st = st
	}
	q.wakeWaitersLocked()
	if q.closed && q.pending == 0 {
		q.closeDrainedLocked()
	}
	q.mu.Unlock()

	q.m.result(result)
	attrs := []slog.Attr{slog.String("voter", j.m.VoterID), slog.String("outcome", result),
		// a duration written for people ("1.2s"): as bare nanoseconds it would be
		// a run of digits like a code, which the leak scans could not tell apart
		slog.Int("attempts", j.attempts), slog.String("elapsed", now.Sub(j.enqueued).Round(time.Millisecond).String())}
	level, msg := slog.LevelInfo, "delivery sent"
	if result != resultSent {
		level, msg = slog.LevelError, "delivery failed"
		attrs = append(attrs, slog.String("reason", reason))
	}
	q.log.LogAttrs(context.Background(), level, msg, attrs...)
}
