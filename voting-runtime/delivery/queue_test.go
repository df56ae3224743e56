package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestEnqueueNeverBlocks: with a gateway that takes 2 s to answer, queueing 50
// codes takes no network time at all.
func TestEnqueueNeverBlocks(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	s.SetResponseDelay(2 * time.Second)
	reg := prometheus.NewRegistry()
	q := delivery.NewQueue(delivery.NewSMS(smsConfig(s)), delivery.QueueOptions{
		Workers: 50, Buffer: 100, Channel: "sms", Registerer: reg})
	closeQueue(t, q)

	deadline := time.Now().Add(time.Minute)
	start := time.Now()
	for i := range 50 {
		m := delivery.Message{VoterID: fmt.Sprintf("V%03d", i), To: fmt.Sprintf("+336000000%02d", i), Body: "code 123456"}
		if err := q.Enqueue(m, deadline); err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
	}
	took := time.Since(start)
	t.Logf("50 Enqueue calls took %v with a gateway answering in 2 s", took)
	if took > time.Second {
		t.Fatalf("50 Enqueue calls took %v: Enqueue waits on the network", took)
	}
	if st := q.Status("V007"); st.State != delivery.Pending {
		t.Errorf("status right after Enqueue = %v", st.State)
	}
	if d := metricValue(t, reg, "scrutin_delivery_queue_depth", "channel", "sms"); d != 50 {
		t.Errorf("queue depth = %v, want 50", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("all 50 delivered %v after the first Enqueue", time.Since(start))
	if n := len(s.Messages()); n != 50 {
		t.Errorf("gateway got %d messages, want 50", n)
	}
	if v := metricValue(t, reg, "scrutin_codes_sent_total", "channel", "sms", "result", "sent"); v != 50 {
		t.Errorf("sent = %v, want 50", v)
	}
	if d := metricValue(t, reg, "scrutin_delivery_queue_depth", "channel", "sms"); d != 0 {
		t.Errorf("queue depth after Close = %v", d)
	}
	if n := metricValue(t, reg, "scrutin_code_delivery_seconds", "channel", "sms"); n != 50 {
		t.Errorf("delivery histogram has %v samples, want 50", n)
	}
}

func TestQueueFull(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	g := newGate()
	q := delivery.NewQueue(g, delivery.QueueOptions{Workers: 1, Buffer: 3, Channel: "mail", Registerer: reg})
	closeQueue(t, q)
	deadline := time.Now().Add(time.Minute)
	for i := range 3 {
		if err := q.Enqueue(delivery.Message{VoterID: fmt.Sprint(i), To: "a@example.org"}, deadline); err != nil {
			t.Fatalf("Enqueue %d: %v", i, err)
		}
	}
	<-g.started // one in flight, two waiting: three accepted and not finished
	start := time.Now()
	err := q.Enqueue(delivery.Message{VoterID: "late", To: "a@example.org"}, deadline)
	took := time.Since(start)
	if !errors.Is(err, delivery.ErrQueueFull) {
		t.Fatalf("Enqueue on a full queue = %v, want ErrQueueFull", err)
	}
	if took > 100*time.Millisecond {
		t.Errorf("ErrQueueFull took %v", took)
	}
	if st := q.Status("late"); st.State != delivery.Unknown {
		t.Errorf("status of a refused message = %v", st.State)
	}
	if v := metricValue(t, reg, "scrutin_delivery_rejected_total", "channel", "mail", "reason", "queue_full"); v != 1 {
		t.Errorf("rejected{queue_full} = %v", v)
	}
	if d := metricValue(t, reg, "scrutin_delivery_queue_depth", "channel", "mail"); d != 3 {
		t.Errorf("queue depth = %v, want 3", d)
	}
	g.release()
	eventually(t, 5*time.Second, "the queue drains", func() bool { return q.Pending() == 0 })
	if err := q.Enqueue(delivery.Message{VoterID: "late", To: "a@example.org"}, deadline); err != nil {
		t.Errorf("Enqueue once drained: %v", err)
	}
}

// TestQueueRetriesGatewayFailures: the gateway answers 503 with Retry-After: 1
// twice; the queue waits as asked and delivers on the third attempt.
func TestQueueRetriesGatewayFailures(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	s.SetFailFirst(2)
	reg := prometheus.NewRegistry()
	q := delivery.NewQueue(delivery.NewSMS(smsConfig(s)), delivery.QueueOptions{Channel: "sms", Registerer: reg})
	closeQueue(t, q)
	start := time.Now()
	if err := q.Enqueue(delivery.Message{VoterID: "A-010", To: "+33612345678", Body: "code 246810"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := s.WaitFor("+33612345678", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("delivered after %v", time.Since(start))
	if sink.CodeIn(got.Text) != "246810" {
		t.Errorf("text %q", got.Text)
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Status != 503 || reqs[1].Status != 503 || reqs[2].Status != 202 {
		t.Fatalf("requests = %+v, want 503, 503, 202", reqs)
	}
	for i := 1; i < 3; i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap < time.Second {
			t.Errorf("attempt %d came %v after the previous one, despite Retry-After: 1", i+1, gap)
		}
	}
	eventually(t, 2*time.Second, "status Sent", func() bool { return q.Status("A-010").State == delivery.Sent })
	st := q.Status("A-010")
	if st.Attempts != 3 || st.At.IsZero() {
		t.Errorf("status = %+v", st)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP scrutin_codes_sent_total Codes and credentials whose delivery finished, by channel and result (sent, failed, expired).
# TYPE scrutin_codes_sent_total counter
scrutin_codes_sent_total{channel="sms",result="expired"} 0
scrutin_codes_sent_total{channel="sms",result="failed"} 0
scrutin_codes_sent_total{channel="sms",result="sent"} 1
# HELP scrutin_delivery_attempts_total Delivery attempts, by channel and outcome (accepted, temporary_error, permanent_error).
# TYPE scrutin_delivery_attempts_total counter
scrutin_delivery_attempts_total{channel="sms",outcome="accepted"} 1
scrutin_delivery_attempts_total{channel="sms",outcome="permanent_error"} 0
scrutin_delivery_attempts_total{channel="sms",outcome="temporary_error"} 2
# HELP scrutin_delivery_queue_depth Messages accepted for delivery and not yet finished (waiting, being sent or waiting to be retried).
# TYPE scrutin_delivery_queue_depth gauge
scrutin_delivery_queue_depth{channel="sms"} 0
`), "scrutin_codes_sent_total", "scrutin_delivery_attempts_total", "scrutin_delivery_queue_depth"); err != nil {
		t.Error(err)
	}
	if n := metricValue(t, reg, "scrutin_code_delivery_seconds", "channel", "sms"); n != 1 {
		t.Errorf("histogram samples = %v", n)
	}
}

// TestQueueHonours429RetryAfter: a 429 with Retry-After: 1 holds the retry back
// for a second although the queue's own backoff is 10 ms.
func TestQueueHonours429RetryAfter(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	s.SetFailures(1, http.StatusTooManyRequests, time.Second)
	q := delivery.NewQueue(delivery.NewSMS(smsConfig(s)), delivery.QueueOptions{Channel: "sms",
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	closeQueue(t, q)
	if err := q.Enqueue(delivery.Message{VoterID: "A-011", To: "+33612345679", Body: "code 135790"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitFor("+33612345679", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 202 {
		t.Fatalf("requests = %+v, want 429 then 202", reqs)
	}
	gap := reqs[1].At.Sub(reqs[0].At)
	t.Logf("retry came %v after the 429", gap)
	if gap < time.Second || gap > 2500*time.Millisecond {
		t.Errorf("retry came %v after a 429 with Retry-After: 1, want 1 s (to 2.5 s on a loaded machine)", gap)
	}
}

// TestQueueExpires: a gateway that is always down; the code's validity ends, the
// message is given up as expired and no longer retried.
func TestQueueExpires(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	s.SetFailures(1000, http.StatusServiceUnavailable, 0)
	reg := prometheus.NewRegistry()
	q := delivery.NewQueue(delivery.NewSMS(smsConfig(s)), delivery.QueueOptions{Channel: "sms", Registerer: reg,
		InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	closeQueue(t, q)
	start := time.Now()
	if err := q.Enqueue(delivery.Message{VoterID: "A-012", To: "+33612345670", Body: "code 975310"}, start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "status Failed", func() bool { return q.Status("A-012").State == delivery.Failed })
	took := time.Since(start)
	st := q.Status("A-012")
	t.Logf("given up after %v: %+v", took, st)
	if !st.Expired || !strings.Contains(st.Reason, "expired") || !strings.Contains(st.Reason, "503") {
		t.Errorf("status = %+v, want expired with the last error", st)
	}
	if took > 2*time.Second {
		t.Errorf("given up %v after a 1 s deadline", took)
	}
	attempts := len(s.Requests())
	time.Sleep(500 * time.Millisecond)
	if n := len(s.Requests()); n != attempts {
		t.Errorf("%d more attempts after giving up", n-attempts)
	}
	if attempts < 3 || attempts > 12 {
		t.Errorf("%d attempts in 1 s with a 50-200 ms backoff", attempts)
	}
	if v := metricValue(t, reg, "scrutin_codes_sent_total", "channel", "sms", "result", "expired"); v != 1 {
		t.Errorf("expired = %v", v)
	}
	if v := metricValue(t, reg, "scrutin_delivery_attempts_total", "channel", "sms", "outcome", "temporary_error"); int(v) != attempts {
		t.Errorf("temporary_error attempts = %v, gateway saw %d", v, attempts)
	}
	if d := metricValue(t, reg, "scrutin_delivery_queue_depth", "channel", "sms"); d != 0 {
		t.Errorf("depth = %v", d)
	}
}

func TestEnqueueRefusesPastDeadlineAndEmptyRecipient(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var calls atomic.Int32
	q := delivery.NewQueue(funcSender(func(context.Context, delivery.Message) error { calls.Add(1); return nil }),
		delivery.QueueOptions{Channel: "mail", Registerer: reg})
	closeQueue(t, q)
	if err := q.Enqueue(delivery.Message{VoterID: "x", To: "a@example.org"}, time.Now().Add(-time.Second)); !errors.Is(err, delivery.ErrExpired) {
		t.Errorf("past deadline: %v", err)
	}
	if err := q.Enqueue(delivery.Message{VoterID: "x"}, time.Now().Add(time.Minute)); !errors.Is(err, delivery.ErrNoRecipient) {
		t.Errorf("no recipient: %v", err)
	}
	if v := metricValue(t, reg, "scrutin_delivery_rejected_total", "channel", "mail", "reason", "expired"); v != 1 {
		t.Errorf("rejected{expired} = %v", v)
	}
	// a zero deadline means the default validity
	if err := q.Enqueue(delivery.Message{VoterID: "y", To: "a@example.org"}, time.Time{}); err != nil {
		t.Errorf("zero deadline: %v", err)
	}
	eventually(t, 2*time.Second, "sent", func() bool { return q.Status("y").State == delivery.Sent })
	if calls.Load() != 1 {
		t.Errorf("%d sends", calls.Load())
	}
}

// TestQueueBackoffSchedule drives the retries with a fake clock: waits of 1, 2, 4 …
// seconds capped at 60, each between half and all of that, until the deadline.
func TestQueueBackoffSchedule(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	reg := prometheus.NewRegistry()
	var calls atomic.Int32
	q := delivery.NewQueue(funcSender(func(context.Context, delivery.Message) error {
		calls.Add(1)
		return &delivery.Error{Reason: "gateway busy"}
	}), delivery.QueueOptions{Channel: "sms", Workers: 1, Clock: clock, Registerer: reg})
	closeQueue(t, q)
	validity := 10 * time.Minute
	if err := q.Enqueue(delivery.Message{VoterID: "B", To: "+33612345678"}, clock.Now().Add(validity)); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	var total time.Duration
	for q.Status("B").State == delivery.Pending {
		select {
		case d := <-clock.waiting:
			waits = append(waits, d)
			total += d
			clock.Advance(d)
		case <-time.After(20 * time.Millisecond):
		}
	}
	st := q.Status("B")
	t.Logf("%d attempts, waits %v, total %v: %s", calls.Load(), waits, total, st.Reason)
	if !st.Expired {
		t.Fatalf("status = %+v, want expired", st)
	}
	base := time.Second
	for i, d := range waits {
		if d < base/2 || d > base {
			t.Errorf("wait %d = %v, want within [%v, %v]", i+1, d, base/2, base)
		}
		base = min(2*base, time.Minute)
	}
	if total >= validity {
		t.Errorf("waited %v in all, beyond the %v validity", total, validity)
	}
	if int(calls.Load()) != len(waits)+1 || st.Attempts != len(waits)+1 {
		t.Errorf("%d sends, %d attempts in status, %d waits", calls.Load(), st.Attempts, len(waits))
	}
	if len(waits) < 11 { // 0.5+1+2+4+8+16+30×… : at least 11 waits fit in 10 minutes
		t.Errorf("only %d retries in %v", len(waits), validity)
	}
}

func TestQueuePermanentFailureStopsAtOnce(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	cfg := smsConfig(s)
	cfg.Token = "revoked"
	reg := prometheus.NewRegistry()
	q := delivery.NewQueue(delivery.NewSMS(cfg), delivery.QueueOptions{Channel: "sms", Registerer: reg,
		InitialBackoff: 10 * time.Millisecond})
	closeQueue(t, q)
	if err := q.Enqueue(delivery.Message{VoterID: "C", To: "+33612345678", Body: "code 121212"}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "Failed", func() bool { return q.Status("C").State == delivery.Failed })
	time.Sleep(100 * time.Millisecond)
	st := q.Status("C")
	if st.Expired || st.Attempts != 1 || !strings.Contains(st.Reason, "token") {
		t.Errorf("status = %+v", st)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if v := metricValue(t, reg, "scrutin_codes_sent_total", "channel", "sms", "result", "failed"); v != 1 {
		t.Errorf("failed = %v", v)
	}
	if v := metricValue(t, reg, "scrutin_delivery_attempts_total", "channel", "sms", "outcome", "permanent_error"); v != 1 {
		t.Errorf("permanent_error = %v", v)
	}
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	g := newGate()
	q := delivery.NewQueue(g, delivery.QueueOptions{Channel: "mail", Workers: 2})
	closeQueue(t, q)
	if st := q.Status("D"); st.State != delivery.Unknown {
		t.Fatalf("before anything: %v", st.State)
	}
	deadline := time.Now().Add(time.Minute)
	before := time.Now()
	if err := q.Enqueue(delivery.Message{VoterID: "D", To: "d@example.org"}, deadline); err != nil {
		t.Fatal(err)
	}
	if st := q.Status("D"); st.State != delivery.Pending || st.At.Before(before) {
		t.Fatalf("after Enqueue: %+v", st)
	}
	<-g.started
	// a resend while the first is still on its way: the status follows the newer
	if err := q.Enqueue(delivery.Message{VoterID: "D", To: "d@example.org"}, deadline); err != nil {
		t.Fatal(err)
	}
	<-g.started
	g.release()
	eventually(t, 2*time.Second, "Sent", func() bool { return q.Status("D").State == delivery.Sent })
	if st := q.Status("D"); st.Attempts != 1 || st.At.IsZero() || st.Reason != "" {
		t.Errorf("sent: %+v", st)
	}
	if q.Status("someone else").State != delivery.Unknown {
		t.Error("status of another voter")
	}

	// a newer message's status is not overwritten by an older one finishing
	var n atomic.Int32
	release := make(chan struct{})
	q2 := delivery.NewQueue(funcSender(func(ctx context.Context, m delivery.Message) error {
		if n.Add(1) == 1 { // the first message: held back, then refused
			<-release
			return &delivery.Error{Reason: "refused", Permanent: true}
		}
		return nil
	}), delivery.QueueOptions{Channel: "mail", Workers: 2})
	closeQueue(t, q2)
	_ = q2.Enqueue(delivery.Message{VoterID: "E", To: "e@example.org"}, deadline)
	eventually(t, time.Second, "first send started", func() bool { return n.Load() == 1 })
	_ = q2.Enqueue(delivery.Message{VoterID: "E", To: "e@example.org"}, deadline)
	eventually(t, time.Second, "second Sent", func() bool { return q2.Status("E").State == delivery.Sent })
	close(release)
	eventually(t, time.Second, "queue drained", func() bool { return q2.Pending() == 0 })
	if st := q2.Status("E"); st.State != delivery.Sent {
		t.Errorf("the older message's failure overwrote the newer one's success: %+v", st)
	}
}

func TestCloseDrains(t *testing.T) {
	t.Parallel()
	s := sink.StartSMTP(t)
	reg := prometheus.NewRegistry()
	q := delivery.NewQueue(delivery.NewSMTP(smtpConfig(s)), delivery.QueueOptions{Channel: "mail", Workers: 1, Registerer: reg})
	s.SetFailFirst(1) // one retry to wait for as well
	for i := range 5 {
		if err := q.Enqueue(delivery.Message{VoterID: fmt.Sprint(i), To: fmt.Sprintf("v%d@example.org", i), Body: "code 123456"},
			time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	t.Logf("Close drained in %v", time.Since(start))
	if n := len(s.Messages()); n != 5 {
		t.Errorf("%d mails delivered, want 5", n)
	}
	if err := q.Enqueue(delivery.Message{VoterID: "late", To: "late@example.org"}, time.Now().Add(time.Minute)); !errors.Is(err, delivery.ErrClosed) {
		t.Errorf("Enqueue after Close = %v", err)
	}
	if v := metricValue(t, reg, "scrutin_delivery_rejected_total", "channel", "mail", "reason", "closed"); v != 1 {
		t.Errorf("rejected{closed} = %v", v)
	}
	if err := q.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	t.Parallel()
	g := newGate() // never released: sends end only when cancelled
	reg := prometheus.NewRegistry()
	q := delivery.NewQueue(g, delivery.QueueOptions{Channel: "sms", Workers: 1, Registerer: reg})
	for i := range 3 {
		_ = q.Enqueue(delivery.Message{VoterID: fmt.Sprint(i), To: "+33612345678"}, time.Now().Add(time.Minute))
	}
	<-g.started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	took := time.Since(start)
	t.Logf("Close: %v after %v", err, took)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want context.DeadlineExceeded", err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("Close took %v with a 200 ms deadline", took)
	}
	eventually(t, 2*time.Second, "all finished", func() bool { return q.Pending() == 0 })
	for i := range 3 {
		if st := q.Status(fmt.Sprint(i)); st.State != delivery.Failed || !strings.Contains(st.Reason, "stopped") {
			t.Errorf("message %d: %+v", i, st)
		}
	}
	if v := metricValue(t, reg, "scrutin_codes_sent_total", "channel", "sms", "result", "failed"); v != 3 {
		t.Errorf("failed = %v", v)
	}
}

func TestEnqueueWait(t *testing.T) {
	t.Parallel()
	g := newGate()
	q := delivery.NewQueue(g, delivery.QueueOptions{Channel: "mail", Workers: 1, Buffer: 1})
	closeQueue(t, q)
	deadline := time.Now().Add(time.Minute)
	if err := q.Enqueue(delivery.Message{VoterID: "1", To: "a@example.org"}, deadline); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := q.EnqueueWait(ctx, delivery.Message{VoterID: "2", To: "a@example.org"}, deadline); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("EnqueueWait on a full queue = %v, want the context's error", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- q.EnqueueWait(context.Background(), delivery.Message{VoterID: "3", To: "a@example.org"}, deadline)
	}()
	select {
	case err := <-done:
		t.Fatalf("EnqueueWait returned %v while the queue was full", err)
	case <-time.After(50 * time.Millisecond):
	}
	g.release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("EnqueueWait: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("EnqueueWait still waiting after a slot freed up")
	}
	eventually(t, 2*time.Second, "3 sent", func() bool { return q.Status("3").State == delivery.Sent })
}

func TestTwoQueuesShareARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	ok := funcSender(func(context.Context, delivery.Message) error { return nil })
	mail := delivery.NewQueue(ok, delivery.QueueOptions{Channel: "mail", Registerer: reg})
	sms := delivery.NewQueue(ok, delivery.QueueOptions{Channel: "sms", Registerer: reg})
	closeQueue(t, mail)
	closeQueue(t, sms)
	_ = mail.Enqueue(delivery.Message{VoterID: "m", To: "a@example.org"}, time.Time{})
	_ = sms.Enqueue(delivery.Message{VoterID: "s", To: "+33612345678"}, time.Time{})
	_ = sms.Enqueue(delivery.Message{VoterID: "s2", To: "+33612345678"}, time.Time{})
	eventually(t, 2*time.Second, "both sent", func() bool {
		return metricValue(t, reg, "scrutin_codes_sent_total", "channel", "mail", "result", "sent") == 1 &&
			metricValue(t, reg, "scrutin_codes_sent_total", "channel", "sms", "result", "sent") == 2
	})
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint problems: %v %v", problems, err)
	}
}

func TestSenderPanicIsAFailure(t *testing.T) {
	t.Parallel()
	q := delivery.NewQueue(funcSender(func(context.Context, delivery.Message) error { panic("boom: code 123456") }),
		delivery.QueueOptions{Channel: "mail"})
	closeQueue(t, q)
	_ = q.Enqueue(delivery.Message{VoterID: "P", To: "p@example.org"}, time.Time{})
	eventually(t, 2*time.Second, "Failed", func() bool { return q.Status("P").State == delivery.Failed })
	if r := q.Status("P").Reason; strings.Contains(r, "123456") {
		t.Errorf("reason holds the panic value: %q", r)
	}
}
