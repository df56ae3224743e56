package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scrutin.dev/scrutin/voting-runtime/store"
)

var (
	// ErrQueueFull: too many codes wait on the channel; nothing was queued. Show
	// the voter a "try again in a moment" page.
	ErrQueueFull = errors.New("delivery: too many codes are waiting, try again in a moment")
	// ErrClosed: the outbox has no sender for the channel; nothing was queued.
	ErrClosed = errors.New("delivery: the channel is not configured")
	// ErrExpired: the message's NotAfter has already passed; nothing was queued.
	ErrExpired = errors.New("delivery: the message's deadline has already passed")
	// ErrNoRecipient: the message has no To.
	ErrNoRecipient = errors.New("delivery: the message has no recipient")
)

// Outbox defaults.
const (
	DefaultWorkers        = 8
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 60 * time.Second
	DefaultAttemptTimeout = 2 * time.Minute
	DefaultBatch          = 32
	DefaultPoll           = time.Second
	DefaultOutboxBacklog  = 10000
	defaultLeaseMargin    = 15 * time.Second
	backlogRefreshEvery   = time.Second
	finishTimeout         = 10 * time.Second
	outboxShutdownTimeout = 5 * time.Second
)

// FailedHook is told of a message given up for good (a refusal, not an expiry),
// with the message opened: the engine sends a code by the other channel from it.
type FailedHook func(ctx context.Context, row store.OutboxMessage, m Message)

// OutboxOptions configure an Outbox. Store and Sealer are required.
type OutboxOptions struct {
	Store  store.Outbox
	Sealer *Sealer
	// Senders by channel (store.ChannelMail, store.ChannelSMS); a channel without
	// one is neither claimed nor accepted.
	Senders map[string]Sender
	// Workers by channel: messages sent at once by this process (default
	// DefaultWorkers).
	Workers map[string]int
	// Batch is the most rows one claim takes (default DefaultBatch).
	Batch int
	// Poll is how often the outbox looks for rows other replicas enqueued
	// (default 1 s); this process's own enqueues wake it at once.
	Poll time.Duration
	// Backlog bounds the codes queued on one channel across replicas: past it
	// EnqueueCode returns ErrQueueFull (default DefaultOutboxBacklog).
	Backlog int
	// InitialBackoff, MaxBackoff: as QueueOptions (doubling from 1 s up to 60 s,
	// drawn between half and all, never sooner than a Retry-After).
	InitialBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one send (default DefaultAttemptTimeout); the lease of
	// a claim is twice AttemptTimeout plus a margin (a claimed row waits for at
	// most one send before its own), so that a live worker always finishes
	// before another replica may claim its row again.
	AttemptTimeout time.Duration
	// OnFailed is called after a message failed for good; may be nil.
	OnFailed FailedHook
	// Now is the clock (time.Now when nil): the store's, so that NotAfter and
	// retry times compare alike.
	Now        func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Outbox sends the store's outbox: per channel, workers claim due rows (from
// this replica or any other), open them, send them with the channel's Sender
// and record the outcome: sent, retried with backoff, or failed for good
// (refused, or worthless past NotAfter). A row whose worker died is claimed again
// once its lease has passed. Its methods are safe for concurrent use.
type Outbox struct {
	st       store.Outbox
	sealer   *Sealer
	senders  map[string]Sender
	workers  map[string]int
	batch    int
	poll     time.Duration
	backlog  int
	initial  time.Duration
	max      time.Duration
	attempt  time.Duration
	lease    time.Duration
	onFailed FailedHook
	now      func() time.Time
	log      *slog.Logger
	m        map[string]queueMetrics
	gauges   *outboxGauges

	wake map[string]chan struct{}
	// queuedCodes: codes queued per channel, as last counted in the store plus
	// this process's enqueues since.
	queuedCodes map[string]*atomic.Int64

	startOnce sync.Once
	cancel    context.CancelFunc
	done      sync.WaitGroup
	sends     sync.WaitGroup
}

// NewOutbox returns an Outbox; Start starts its workers.
func NewOutbox(opts OutboxOptions) (*Outbox, error) {
	if opts.Store == nil || opts.Sealer == nil {
		return nil, errors.New("delivery: an outbox needs a store and a sealer")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.Poll, DefaultPoll)
	def(&opts.InitialBackoff, DefaultInitialBackoff)
	def(&opts.MaxBackoff, DefaultMaxBackoff)
	def(&opts.AttemptTimeout, DefaultAttemptTimeout)
	if opts.MaxBackoff < opts.InitialBackoff {
		opts.MaxBackoff = opts.InitialBackoff
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Backlog <= 0 {
		opts.Backlog = DefaultOutboxBacklog
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	o := &Outbox{
		st: opts.Store, sealer: opts.Sealer, senders: map[string]Sender{}, workers: map[string]int{},
		batch: opts.Batch, poll: opts.Poll, backlog: opts.Backlog,
		initial: opts.InitialBackoff, max: opts.MaxBackoff, attempt: opts.AttemptTimeout,
		lease: 2*opts.AttemptTimeout + defaultLeaseMargin, onFailed: opts.OnFailed, now: opts.Now, log: opts.Logger,
		m: map[string]queueMetrics{}, gauges: newOutboxGauges(opts.Registerer),
		wake: map[string]chan struct{}{}, queuedCodes: map[string]*atomic.Int64{},
	}
	for ch, s := range opts.Senders {
		if s == nil {
			continue
		}
		if ch != store.ChannelMail && ch != store.ChannelSMS {
			return nil, fmt.Errorf("delivery: unknown channel %q", ch)
		}
		o.senders[ch] = s
		o.workers[ch] = opts.Workers[ch]
		if o.workers[ch] <= 0 {
			o.workers[ch] = DefaultWorkers
		}
		o.m[ch] = newQueueMetrics(opts.Registerer, ch)
		o.wake[ch] = make(chan struct{}, 1)
		o.queuedCodes[ch] = new(atomic.Int64)
	}
	return o, nil
}

// SetFailedHook sets the OnFailed hook; call it before Start.
func (o *Outbox) SetFailedHook(h FailedHook) { o.onFailed = h }

// Has reports whether the outbox sends on channel.
func (o *Outbox) Has(channel string) bool { return o != nil && o.senders[channel] != nil }

// Sealer is the outbox's sealer, for messages enqueued through the store directly
// (credential letters, in the roll import's transaction).
func (o *Outbox) Sealer() *Sealer { return o.sealer }

// Seal makes an outbox row of m for voterID, kind and channel, worthless after
// notAfter.
func (o *Outbox) Seal(voterID, kind, channel string, m Message, notAfter time.Time) (store.OutboxMessage, error) {
	if m.To == "" {
		return store.OutboxMessage{}, ErrNoRecipient
	}
	sealed, err := o.sealer.Seal(voterID, kind, channel, m)
	if err != nil {
		return store.OutboxMessage{}, err
	}
	return store.OutboxMessage{VoterID: voterID, Kind: kind, Channel: channel, Sealed: sealed, NotAfter: notAfter}, nil
}

// EnqueueCode seals a code's message and stores it in the outbox, then wakes
// the channel's workers: once it returns, the code survives any crash. It
// returns ErrQueueFull, storing nothing, when Backlog codes already wait on the
// channel, ErrExpired when notAfter has passed, ErrClosed when the outbox has no
// sender for the channel.
func (o *Outbox) EnqueueCode(ctx context.Context, channel string, m Message, notAfter time.Time) (int64, error) {
	row, err := o.PrepareCode(ctx, channel, m, notAfter)
	if err != nil {
		return 0, err
	}
	ids, err := o.st.Enqueue(ctx, row)
	if err != nil {
		return 0, fmt.Errorf("delivery: storing the message in the outbox: %w", err)
	}
	o.CodeQueued(channel)
	return ids[0], nil
}

// PrepareCode is EnqueueCode's first half, for a caller that stores the row
// itself in a transaction of its own (the store's SendCode): the same checks
// and refusals (ErrClosed, ErrExpired, ErrQueueFull), then the sealed row. Once
// the row is stored, CodeQueued says so.
func (o *Outbox) PrepareCode(ctx context.Context, channel string, m Message, notAfter time.Time) (store.OutboxMessage, error) {
	if !o.Has(channel) {
		return store.OutboxMessage{}, ErrClosed
	}
	mt := o.m[channel]
	if !o.now().Before(notAfter) {
		mt.rejected(rejectExpired)
		return store.OutboxMessage{}, ErrExpired
	}
	if o.queuedCodes[channel].Load() >= int64(o.backlog) {
		mt.rejected(rejectFull)
		o.log.LogAttrs(ctx, slog.LevelWarn, "delivery not queued: too many codes waiting",
			slog.String("channel", channel), slog.String("voter", m.VoterID), slog.String("outcome", "rejected"))
		return store.OutboxMessage{}, ErrQueueFull
	}
	return o.Seal(m.VoterID, store.KindCode, channel, m, notAfter)
}

// CodeQueued counts a code stored in the outbox on channel and wakes the
// channel's workers.
func (o *Outbox) CodeQueued(channel string) {
	o.queuedCodes[channel].Add(1)
	o.Wake(channel)
}

// Wake tells channel's workers that rows are due now (this process enqueued
// some).
func (o *Outbox) Wake(channel string) {
	if w := o.wake[channel]; w != nil {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Start starts the workers (once); they stop when ctx ends or at Close.
func (o *Outbox) Start(ctx context.Context) {
	o.startOnce.Do(func() {
		ctx, o.cancel = context.WithCancel(ctx)
		for ch := range o.senders {
			o.done.Add(1)
			go func() { defer o.done.Done(); o.claimLoop(ctx, ch) }()
		}
		o.done.Add(1)
		go func() { defer o.done.Done(); o.countLoop(ctx) }()
	})
}

// Close stops claiming, and waits for the sends under way until ctx ends; a
// send cut short is recorded for a prompt retry. Rows still queued stay in the
// store, for the next process.
func (o *Outbox) Close(ctx context.Context) error {
	if o.cancel == nil {
		return nil
	}
	o.cancel()
	done := make(chan struct{})
	go func() { o.done.Wait(); o.sends.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("delivery: outbox closed with sends under way: %w", ctx.Err())
	}
}

// claimLoop claims channel's due rows, a batch at a time, as its workers run
// short of work: the rows claimed and not yet finished stay between the number
// of workers and twice that, so that a claim (a write transaction, a disk sync
// on the embedded store) serves several messages, and a row claimed waits for
// at most one send before its own.
func (o *Outbox) claimLoop(ctx context.Context, channel string) {
	workers := o.workers[channel]
	// a row waits for at most one send before its own: the lease covers two
	batch := min(o.batch, workers)
	held := make(chan struct{}, workers+batch) // a token per row claimed and not finished
	jobs := make(chan store.OutboxMessage, workers+batch)
	freed := make(chan struct{}, 1)
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	go func() {
		// Sends under way get a little time to finish at shutdown.
		<-ctx.Done()
		t := time.NewTimer(outboxShutdownTimeout)
		defer t.Stop()
		<-t.C
		cancelSends()
	}()
	for range workers {
		o.sends.Add(1)
		go func() {
			defer o.sends.Done()
			for r := range jobs {
				if ctx.Err() != nil {
					// claimed, not started: another replica, or the next
					// process, may send it at once
					o.finish(channel, r, store.OutboxOutcome{State: store.DeliveryQueued, Reason: r.Reason, RetryAt: o.now()}, "")
				} else {
					o.process(sendCtx, channel, r)
				}
				<-held
				select {
				case freed <- struct{}{}:
				default:
				}
			}
		}()
	}
	defer close(jobs)
	poll := time.NewTicker(o.poll)
	defer poll.Stop()
	for {
		if len(held) >= workers {
			// every worker has a row: claim again when one is done
			select {
			case <-freed:
			case <-ctx.Done():
				return
			}
			continue
		}
		limit := cap(held) - len(held)
		rows, err := o.st.Claim(ctx, channel, limit, o.lease)
		if err != nil && ctx.Err() == nil {
			o.log.Error("Could not claim messages from the outbox", "channel", channel, "error", err)
		}
		for _, r := range rows {
			held <- struct{}{}
			jobs <- r
		}
		if len(rows) == limit {
			continue
		}
		select {
		case <-o.wake[channel]:
		case <-poll.C:
		case <-ctx.Done():
			return
		}
	}
}

// process makes one attempt at row and records its outcome.
func (o *Outbox) process(ctx context.Context, channel string, row store.OutboxMessage) {
	mt := o.m[channel]
	m, err := o.sealer.Open(row.VoterID, row.Kind, row.Channel, row.Sealed)
	if err != nil {
		// under another key (the keys Secret changed) or altered: no attempt can
		// ever send it
		o.finish(channel, row, store.OutboxOutcome{State: store.DeliveryFailed, Reason: "unsealable"}, resultFailed)
		return
	}
	now := o.now()
	left := row.NotAfter.Sub(now)
	if left <= 0 {
		o.finish(channel, row, store.OutboxOutcome{State: store.DeliveryFailed, Reason: "expired"}, resultExpired)
		return
	}
	actx, cancel := context.WithTimeout(ctx, min(o.attempt, left))
	err = o.send(actx, channel, m)
	cancel()
	now = o.now()
	if err == nil {
		mt.attempt(outcomeAccepted)
		mt.seconds.Observe(now.Sub(row.CreatedAt).Seconds())
		o.finish(channel, row, store.OutboxOutcome{State: store.DeliverySent}, resultSent)
		return
	}
	class := reasonClass(err, channel)
	if IsPermanent(err) {
		mt.attempt(outcomePermanent)
		o.log.LogAttrs(context.Background(), slog.LevelError, "delivery failed", slog.String("channel", channel),
			slog.String("voter", row.VoterID), slog.String("kind", row.Kind), slog.String("outcome", resultFailed),
			slog.Int("attempts", row.Attempts), slog.String("reason", reasonOf(err, m)))
		if o.finish(channel, row, store.OutboxOutcome{State: store.DeliveryFailed, Reason: class}, resultFailed) && o.onFailed != nil {
			o.onFailed(context.WithoutCancel(ctx), row, m)
		}
		return
	}
	mt.attempt(outcomeTemporary)
	wait := o.backoff(row.Attempts)
	if ra := retryAfter(err); ra > 0 {
		if ra += rand.N(ra/10 + 1); ra > wait {
			wait = ra
		}
	}
	if ctx.Err() != nil {
		wait = 0 // cut short by the shutdown: another replica, or the next process, retries at once
	}
	if !now.Add(wait).Before(row.NotAfter) {
		o.finish(channel, row, store.OutboxOutcome{State: store.DeliveryFailed, Reason: "expired"}, resultExpired)
		return
	}
	o.log.LogAttrs(context.Background(), slog.LevelWarn, "delivery attempt failed, will retry",
		slog.String("channel", channel), slog.String("voter", row.VoterID), slog.String("outcome", outcomeTemporary),
		slog.Int("attempt", row.Attempts), slog.String("reason", reasonOf(err, m)), slog.Duration("retry_in", wait))
	o.finish(channel, row, store.OutboxOutcome{State: store.DeliveryQueued, Reason: class, RetryAt: now.Add(wait)}, "")
}

// finish records an outcome; it reports whether it was recorded (false: the
// lease was lost, another worker has the row).
func (o *Outbox) finish(channel string, row store.OutboxMessage, out store.OutboxOutcome, result string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	ok, err := o.st.Finish(ctx, row.ID, row.Attempts, out)
	if err != nil {
		o.log.Error("Could not record a delivery's outcome; the message will be claimed again", "channel", channel,
			"voter", row.VoterID, "error", err)
		return false
	}
	if !ok {
		o.log.Warn("A delivery's lease ran out before its outcome was recorded", "channel", channel, "voter", row.VoterID)
		return false
	}
	if result != "" {
		o.m[channel].result(result)
		if row.Kind == store.KindCode {
			o.queuedCodes[channel].Add(-1)
		}
		if result == resultSent {
			o.log.LogAttrs(context.Background(), slog.LevelInfo, "delivery sent", slog.String("channel", channel),
				slog.String("voter", row.VoterID), slog.String("kind", row.Kind), slog.String("outcome", resultSent),
				slog.Int("attempts", row.Attempts))
		}
	}
	return true
}

// send calls the sender; a panic becomes a permanent failure.
func (o *Outbox) send(ctx context.Context, channel string, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			o.log.LogAttrs(context.Background(), slog.LevelError, "delivery sender panicked",
				slog.String("voter", m.VoterID), slog.String("panic_type", fmt.Sprintf("%T", r)))
			err = permanent("the sender failed unexpectedly")
		}
	}()
	return o.senders[channel].Send(ctx, m)
}

// backoff is the wait before retry number n (n ≥ 1).
func (o *Outbox) backoff(n int) time.Duration {
	d := o.initial
	for i := 1; i < n && d < o.max; i++ {
		d *= 2
	}
	d = min(d, o.max)
	return d/2 + rand.N(d/2+1)
}

// countLoop counts the store's outbox every second: the backlog gauges, and the
// queued codes that EnqueueCode bounds.
func (o *Outbox) countLoop(ctx context.Context) {
	t := time.NewTicker(backlogRefreshEvery)
	defer t.Stop()
	for {
		o.count(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Outbox) count(ctx context.Context) {
	counts, err := o.st.DeliveryCounts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			o.log.Warn("Could not count the outbox", "error", err)
		}
		return
	}
	now := o.now()
	codes, all := map[string]int64{}, map[string]int64{}
	o.gauges.reset()
	for _, c := range counts {
		if c.State != store.DeliveryQueued {
			continue
		}
		all[c.Channel] += c.N
		o.gauges.set(c.Channel, c.Kind, float64(c.N), now.Sub(c.OldestCreatedAt).Seconds())
		if c.Kind == store.KindCode {
			codes[c.Channel] += c.N
		}
	}
	for ch, n := range o.queuedCodes {
		n.Store(codes[ch])
		o.m[ch].depth.Set(float64(all[ch]))
	}
}

// reasonClass is a failure as a short class for the outbox's Reason: never an
// address nor a secret.
func reasonClass(err error, channel string) string {
	var e *Error
	prefix := "smtp"
	if channel == store.ChannelSMS {
		prefix = "sms"
	}
	var opErr *net.OpError
	switch {
	case errors.As(err, &e) && e.Code != 0 && channel == store.ChannelSMS:
		return fmt.Sprintf("sms-http-%d", e.Code)
	case errors.As(err, &e) && e.Code != 0:
		return fmt.Sprintf("smtp-%d", e.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return prefix + "-timeout"
	case errors.Is(err, context.Canceled):
		return prefix + "-interrupted"
	case errors.As(err, &opErr):
		return prefix + "-unreachable"
	case errors.As(err, &e) && strings.Contains(e.Reason, "settings"):
		return prefix + "-settings"
	case errors.As(err, &e) && strings.Contains(e.Reason, "recipient"):
		return prefix + "-bad-recipient"
	case errors.As(err, &e) && strings.Contains(e.Reason, "token"):
		return prefix + "-token-refused"
	default:
		return prefix + "-error"
	}
}

// outboxGauges are the backlog: messages queued in the store (every replica's),
// by channel and kind, and the age of the oldest.
type outboxGauges struct {
	queued *prometheus.GaugeVec
	oldest *prometheus.GaugeVec
}

func newOutboxGauges(reg prometheus.Registerer) *outboxGauges {
	return &outboxGauges{
		queued: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scrutin_delivery_backlog",
			Help: "Messages queued in the election's outbox, from every replica, by channel and kind (code, credential): waiting, being sent or waiting to be retried.",
		}, []string{"channel", "kind"})),
		oldest: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scrutin_delivery_oldest_queued_seconds",
			Help: "Age of the oldest message queued in the election's outbox, by channel and kind: how far behind delivery is.",
		}, []string{"channel", "kind"})),
	}
}

func (g *outboxGauges) reset() {
	for _, ch := range []string{store.ChannelMail, store.ChannelSMS} {
		for _, k := range []string{store.KindCode, store.KindCredential, store.KindNotice} {
			g.queued.WithLabelValues(ch, k).Set(0)
			g.oldest.WithLabelValues(ch, k).Set(0)
		}
	}
}

func (g *outboxGauges) set(channel, kind string, n, age float64) {
	g.queued.WithLabelValues(channel, kind).Set(n)
	g.oldest.WithLabelValues(channel, kind).Set(max(0, age))
}
