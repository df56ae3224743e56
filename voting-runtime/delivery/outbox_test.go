package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
	"scrutin.dev/scrutin/voting-runtime/store"
	"scrutin.dev/scrutin/voting-runtime/store/embedded"
)

// outboxFixture is an outbox over a real embedded store, sending to real sinks
// on 127.0.0.1.
type outboxFixture struct {
	st     *embedded.Store
	smtp   *sink.SMTPSink
	sms    *sink.SMSSink
	sealer *delivery.Sealer
	ob     *delivery.Outbox
	reg    *prometheus.Registry
	logs   *syncBuffer

	mu     sync.Mutex
	failed []delivery.Message
}

func newOutboxFixture(t *testing.T, tune func(*delivery.OutboxOptions)) *outboxFixture {
	t.Helper()
	st, _ := enginetest.Store(t)
	f := &outboxFixture{st: st, smtp: sink.StartSMTP(t), sms: sink.StartSMS(t, smsToken), reg: prometheus.NewRegistry()}
	var err error
	if f.sealer, err = delivery.NewSealer(bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	logger, logs := testLogger()
	f.logs = logs
	opts := delivery.OutboxOptions{Store: st, Sealer: f.sealer, Registerer: f.reg, Logger: logger,
		Senders:        map[string]delivery.Sender{store.ChannelMail: delivery.NewSMTP(smtpConfig(f.smtp)), store.ChannelSMS: delivery.NewSMS(smsConfig(f.sms))},
		InitialBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, AttemptTimeout: 2 * time.Second, Poll: 100 * time.Millisecond,
		OnFailed: func(_ context.Context, _ store.OutboxMessage, m delivery.Message) {
			f.mu.Lock()
			f.failed = append(f.failed, m)
			f.mu.Unlock()
		}}
	if tune != nil {
		tune(&opts)
	}
	if f.ob, err = delivery.NewOutbox(opts); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *outboxFixture) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f.ob.Start(ctx)
	t.Cleanup(func() {
		cancel()
		_ = f.ob.Close(context.Background())
	})
}

// latest is the voter's newest outbox message.
func (f *outboxFixture) latest(t *testing.T, voterID string) store.OutboxMessage {
	t.Helper()
	ms, err := f.st.Deliveries(context.Background(), voterID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		return store.OutboxMessage{}
	}
	return ms[0]
}

func (f *outboxFixture) waitState(t *testing.T, voterID string, want store.DeliveryState) store.OutboxMessage {
	t.Helper()
	var m store.OutboxMessage
	eventually(t, 10*time.Second, voterID+" "+string(want), func() bool { m = f.latest(t, voterID); return m.State == want })
	return m
}

func TestOutboxSendsACode(t *testing.T) {
	f := newOutboxFixture(t, nil)
	f.start(t)
	if _, err := f.ob.EnqueueCode(context.Background(), store.ChannelSMS,
		delivery.Message{VoterID: "V-1", To: "+33612345678", Body: "code 481516"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := f.sms.WaitFor("+33612345678", 10*time.Second)
	if err != nil || sink.CodeIn(got.Text) != "481516" {
		t.Fatalf("SMS: %v %q", err, got.Text)
	}
	m := f.waitState(t, "V-1", store.DeliverySent)
	if m.Attempts != 1 || m.Kind != store.KindCode || m.Channel != store.ChannelSMS || m.Sealed != nil {
		t.Errorf("the sent message: %+v", m)
	}
}

// TestOutboxSendsRowsOtherReplicasEnqueued: a row another process put in the store
// (no wake-up here) is sent within the poll.
func TestOutboxSendsRowsOtherReplicasEnqueued(t *testing.T) {
	f := newOutboxFixture(t, nil)
	f.start(t)
	row, err := f.ob.Seal("V-2", store.KindCredential, store.ChannelMail,
		delivery.Message{To: "v2@example.org", Subject: "letter", Body: "credential AAAAA-BBBBB"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Enqueue(context.Background(), row); err != nil {
		t.Fatal(err)
	}
	if _, err := f.smtp.WaitFor("v2@example.org", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	f.waitState(t, "V-2", store.DeliverySent)
}

// TestOutboxRetriesTemporaryFailures: two 503s, then the gateway takes it: sent at
// the third attempt, the reason of the last failure a class without the number.
func TestOutboxRetriesTemporaryFailures(t *testing.T) {
	f := newOutboxFixture(t, nil)
	f.sms.SetFailures(2, http.StatusServiceUnavailable, 0)
	f.start(t)
	if _, err := f.ob.EnqueueCode(context.Background(), store.ChannelSMS,
		delivery.Message{VoterID: "V-3", To: "+33612345679", Body: "code 112233"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sms.WaitFor("+33612345679", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if m := f.waitState(t, "V-3", store.DeliverySent); m.Attempts != 3 {
		t.Errorf("sent after %d attempts, want 3", m.Attempts)
	}
	if got := metricValue(t, f.reg, "scrutin_delivery_attempts_total", "channel", "sms", "outcome", "temporary_error"); got != 2 {
		t.Errorf("temporary errors counted: %v, want 2", got)
	}
}

// TestOutboxPermanentFailure: a refused mailbox fails at once, with a reason class
// and never the address; the failed hook gets the message (the engine's fallback).
func TestOutboxPermanentFailure(t *testing.T) {
	f := newOutboxFixture(t, nil)
	f.smtp.Reject("gone@example.org")
	f.start(t)
	if _, err := f.ob.EnqueueCode(context.Background(), store.ChannelMail,
		delivery.Message{VoterID: "V-4", To: "gone@example.org", Body: "code 998877"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	m := f.waitState(t, "V-4", store.DeliveryFailed)
	if m.Attempts != 1 || m.Reason != "smtp-550" {
		t.Errorf("failed after %d attempts, reason %q; want 1, smtp-550", m.Attempts, m.Reason)
	}
	eventually(t, 5*time.Second, "the failed hook called", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.failed) == 1 })
	if got := f.failed[0]; got.VoterID != "V-4" || got.To != "gone@example.org" || sink.CodeIn(got.Body) != "998877" {
		t.Errorf("the hook got %+v", got)
	}
}

// TestOutboxExpiresWorthlessMessages: a code the gateway keeps refusing for now
// is given up once past its validity, as "expired".
func TestOutboxExpiresWorthlessMessages(t *testing.T) {
	f := newOutboxFixture(t, nil)
	f.sms.SetFailures(1<<20, http.StatusBadGateway, 0)
	f.start(t)
	if _, err := f.ob.EnqueueCode(context.Background(), store.ChannelSMS,
		delivery.Message{VoterID: "V-5", To: "+33612345670", Body: "code 665544"}, time.Now().Add(400*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if m := f.waitState(t, "V-5", store.DeliveryFailed); m.Reason != "expired" {
		t.Errorf("reason %q, want expired", m.Reason)
	}
	if _, err := f.ob.EnqueueCode(context.Background(), store.ChannelSMS,
		delivery.Message{VoterID: "V-5", To: "+33612345670", Body: "code 665544"}, time.Now().Add(-time.Second)); !errors.Is(err, delivery.ErrExpired) {
		t.Errorf("a code already past its validity: %v, want ErrExpired", err)
	}
}

// TestOutboxClaimsADeadWorkersRow: a row claimed by a worker that died (its lease
// not finished) is sent by another once the lease has passed, with the same
// sealed content.
func TestOutboxClaimsADeadWorkersRow(t *testing.T) {
	f := newOutboxFixture(t, nil)
	ctx := context.Background()
	row, _ := f.ob.Seal("V-6", store.KindCredential, store.ChannelMail,
		delivery.Message{To: "v6@example.org", Body: "credential CCCCC-DDDDD"}, time.Now().Add(time.Hour))
	if _, err := f.st.Enqueue(ctx, row); err != nil {
		t.Fatal(err)
	}
	// the worker that died: it claimed the row for 1 s and never finished it
	if got, err := f.st.Claim(ctx, store.ChannelMail, 10, time.Second); err != nil || len(got) != 1 {
		t.Fatalf("claim: %v %v", got, err)
	}
	f.start(t)
	got, err := f.smtp.WaitFor("v6@example.org", 10*time.Second)
	if err != nil || !strings.Contains(got.Body, "CCCCC-DDDDD") {
		t.Fatalf("the dead worker's row: %v %q", err, got.Body)
	}
	if m := f.waitState(t, "V-6", store.DeliverySent); m.Attempts != 2 {
		t.Errorf("sent at attempt %d, want 2 (the dead worker's, then this one)", m.Attempts)
	}
}

// TestOutboxBoundsQueuedCodes: past Backlog codes waiting on a channel, a code is
// refused (ErrQueueFull) and nothing is stored.
func TestOutboxBoundsQueuedCodes(t *testing.T) {
	f := newOutboxFixture(t, func(o *delivery.OutboxOptions) { o.Backlog = 1 })
	f.smtp.SetFailFirst(1 << 20)
	f.start(t)
	ctx := context.Background()
	if _, err := f.ob.EnqueueCode(ctx, store.ChannelMail, delivery.Message{VoterID: "V-7", To: "v7@example.org", Body: "code 123456"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ob.EnqueueCode(ctx, store.ChannelMail, delivery.Message{VoterID: "V-8", To: "v8@example.org", Body: "code 654321"}, time.Now().Add(time.Minute)); !errors.Is(err, delivery.ErrQueueFull) {
		t.Fatalf("the second code: %v, want ErrQueueFull", err)
	}
	if m := f.latest(t, "V-8"); m.ID != 0 {
		t.Errorf("the refused code was stored: %+v", m)
	}
	// another channel has its own bound
	if _, err := f.ob.EnqueueCode(ctx, store.ChannelSMS, delivery.Message{VoterID: "V-8", To: "+33612345671", Body: "code 654321"}, time.Now().Add(time.Minute)); err != nil {
		t.Errorf("a code on the other channel: %v", err)
	}
}

// TestOutboxFailsAnUnsealableRow: a row sealed under another key (the keys
// Secret replaced) is never sent, and fails as "unsealable".
func TestOutboxFailsAnUnsealableRow(t *testing.T) {
	f := newOutboxFixture(t, nil)
	other, _ := delivery.NewSealer(bytes.Repeat([]byte{8}, 32))
	sealed, _ := other.Seal("V-9", store.KindCode, store.ChannelMail, delivery.Message{To: "v9@example.org", Body: "code 777777"})
	if _, err := f.st.Enqueue(context.Background(), store.OutboxMessage{VoterID: "V-9", Kind: store.KindCode, Channel: store.ChannelMail,
		Sealed: sealed, NotAfter: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	if m := f.waitState(t, "V-9", store.DeliveryFailed); m.Reason != "unsealable" {
		t.Errorf("reason %q, want unsealable", m.Reason)
	}
	if len(f.smtp.Messages()) != 0 {
		t.Error("an unsealable row was sent")
	}
}

// TestOutboxLogsAndMetricsHoldNoSecret: through a send, a refusal, retries and an
// expiry, the logs, the metrics and the stored reasons hold neither the code nor
// the address nor the phone.
func TestOutboxLogsAndMetricsHoldNoSecret(t *testing.T) {
	const (
		code  = "739184"
		phone = "+33612345678"
		email = "jeanne.dupont@example.org"
	)
	secrets := []string{code, phone, strings.TrimPrefix(phone, "+"), email, "jeanne.dupont"}
	f := newOutboxFixture(t, nil)
	f.smtp.Reject(email)
	f.sms.SetFailFirst(1)
	f.start(t)
	ctx := context.Background()
	_, _ = f.ob.EnqueueCode(ctx, store.ChannelMail, delivery.Message{VoterID: "V-L1", To: email, Body: "Votre code est " + code}, time.Now().Add(time.Minute))
	_, _ = f.ob.EnqueueCode(ctx, store.ChannelSMS, delivery.Message{VoterID: "V-L2", To: phone, Body: "Votre code est " + code}, time.Now().Add(time.Minute))
	f.waitState(t, "V-L1", store.DeliveryFailed)
	f.waitState(t, "V-L2", store.DeliverySent)
	var reasons []string
	for _, id := range []string{"V-L1", "V-L2"} {
		reasons = append(reasons, f.latest(t, id).Reason)
	}
	mustNotContain(t, "reasons", strings.Join(reasons, "\n"), secrets...)
	logText := f.logs.String()
	if !strings.Contains(logText, "V-L1") || !strings.Contains(logText, `"outcome":"failed"`) {
		t.Errorf("the log lacks the voter ids or outcomes:\n%s", logText)
	}
	mustNotContain(t, "log", logText, secrets...)
	mustNotContain(t, "log", logText, "Votre code")
	metrics := metricsText(t, f.reg)
	if !strings.Contains(metrics, "scrutin_codes_sent_total") || !strings.Contains(metrics, "scrutin_delivery_backlog") {
		t.Errorf("metrics lack the delivery counters or the backlog:\n%s", metrics)
	}
	mustNotContain(t, "metrics", metrics, secrets...)
	mustNotContain(t, "metrics", metrics, "V-L")
}
