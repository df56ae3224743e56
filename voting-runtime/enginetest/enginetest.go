// Package enginetest holds what the tests of the engine and of the layers above it
// (the pages, the API) share.
package enginetest

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scrutin.dev/scrutin/voting-runtime/auth"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/embedded"
)

// Clock is a settable time source for engine.Config.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Roll has three voters, the second with weight 2, each with an email and a phone.
const Roll = "voter_id,name,email,phone,weight\n" +
	"V-1,Camille Martin,camille@example.org,+33612345678,1\n" +
	"V-2,Jean Dupont,jean@example.org,+33698765432,2\n" +
	"V-3,Amina Diallo,amina@example.org,+33756781234,1\n"

// Store opens a migrated embedded store in t's temporary directory, closed when t
// ends, and a hasher with a fixed key: what every engine fixture starts from.
func Store(t testing.TB) (*embedded.Store, auth.Hasher) {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, filepath.Join(t.TempDir(), "election.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := auth.NewHasher(HashKey)
	if err != nil {
		t.Fatal(err)
	}
	return st, h
}

// HashKey is the fixed hash key of Store's hasher.
var HashKey = bytes.Repeat([]byte{42}, 32)

// OutboxOptions tune Outbox; the zero value is ready to use.
type OutboxOptions struct {
	// Mail and SMS send each channel; nil: the channel is absent.
	Mail, SMS delivery.Sender
	// Now is the clock (the store's); time.Now when nil.
	Now func() time.Time
	// Backlog bounds the queued codes per channel (default 100).
	Backlog int
	// Registerer receives the outbox's metrics.
	Registerer prometheus.Registerer
}

// Outbox starts an outbox over st, sealed under HashKey, that stops when t ends.
func Outbox(t testing.TB, st store.Outbox, o OutboxOptions) *delivery.Outbox {
	t.Helper()
	sealer, err := delivery.NewSealer(HashKey)
	if err != nil {
		t.Fatal(err)
	}
	senders := map[string]delivery.Sender{}
	if o.Mail != nil {
		senders[store.ChannelMail] = o.Mail
	}
	if o.SMS != nil {
		senders[store.ChannelSMS] = o.SMS
	}
	if o.Backlog == 0 {
		o.Backlog = 100
	}
	opts := delivery.OutboxOptions{Store: st, Sealer: sealer, Senders: senders, Backlog: o.Backlog, Now: o.Now,
		Workers: map[string]int{store.ChannelMail: 2, store.ChannelSMS: 2}, AttemptTimeout: 5 * time.Second,
		Poll: 100 * time.Millisecond, Registerer: o.Registerer}
	ob, err := delivery.NewOutbox(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ob.Start(ctx)
	t.Cleanup(func() {
		cancel()
		_ = ob.Close(context.Background())
	})
	return ob
}
