package delivery_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// TestDelayedSMSDelivery: the gateway accepts at once but the carrier takes 3 s
// (90 s in the end-to-end test): the queue reports Sent as soon as the gateway
// accepted, and the phone gets the code about 3 s later.
func TestDelayedSMSDelivery(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	s.SetDeliveryDelay(3 * time.Second)
	q := delivery.NewQueue(delivery.NewSMS(smsConfig(s)), delivery.QueueOptions{Channel: "sms"})
	closeQueue(t, q)
	start := time.Now()
	if err := q.Enqueue(delivery.Message{VoterID: "F", To: "+33699887766", Body: "Votre code : 864202"}, start.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "Sent (accepted by the gateway)", func() bool { return q.Status("F").State == delivery.Sent })
	if _, err := s.WaitFor("+33699887766", 500*time.Millisecond); !errors.Is(err, sink.ErrTimeout) {
		t.Fatalf("WaitFor before the carrier's delay: %v, want ErrTimeout", err)
	}
	if n := len(s.Messages()); n != 0 {
		t.Errorf("Messages shows %d messages before the delay", n)
	}
	if n := len(s.Accepted()); n != 1 {
		t.Errorf("Accepted shows %d messages", n)
	}
	got, err := s.WaitFor("+33699887766", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("code on the phone %v after Enqueue (accepted at +%v)", took, got.ReceivedAt.Sub(start))
	if took < 3*time.Second || took > 5*time.Second {
		t.Errorf("delivered after %v, want about 3 s", took)
	}
	if sink.CodeIn(got.Text) != "864202" {
		t.Errorf("text %q", got.Text)
	}
}

// TestNoSecretLeaks sends codes through both senders and queues, through success,
// retries, refusals, a wrong token, expiry and a full queue, and checks that the
// code, the phone and the address appear in no log line, no metric and no error.
func TestNoSecretLeaks(t *testing.T) {
	t.Parallel()
	const (
		code  = "739184"
		phone = "+33612345678"
		email = "jeanne.dupont@example.org"
		cred  = "K7QMA-XW3RD-P9ZTE-4HJNB-QS2VY"
	)
	secrets := []string{code, phone, strings.TrimPrefix(phone, "+"), email, "jeanne.dupont", cred}
	logger, logs := testLogger()
	reg := prometheus.NewRegistry()

	smtpSink := sink.StartSMTP(t)
	smsSink := sink.StartSMS(t, smsToken)
	mailSender := delivery.NewSMTP(smtpConfig(smtpSink))
	smsSender := delivery.NewSMS(smsConfig(smsSink))
	opts := func(ch string) delivery.QueueOptions {
		return delivery.QueueOptions{Channel: ch, Registerer: reg, Logger: logger, Workers: 2, Buffer: 4,
			InitialBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	}
	mailQ := delivery.NewQueue(mailSender, opts("mail"))
	smsQ := delivery.NewQueue(smsSender, opts("sms"))
	mailMsg := delivery.Message{VoterID: "V-LEAK-1", To: email, Subject: "Congrès — code",
		Body: "Votre code de connexion est " + code + ".\nVotre code de vote : " + cred}
	smsMsg := delivery.Message{VoterID: "V-LEAK-2", To: phone, Body: "Congrès : votre code est " + code}
	var errs []error
	ctx := context.Background()

	// direct sends: success and every kind of failure
	errs = append(errs, mailSender.Send(ctx, mailMsg), smsSender.Send(ctx, smsMsg))
	smtpSink.Reject(email) // the refusal repeats the address
	errs = append(errs, mailSender.Send(ctx, mailMsg))
	smtpSink.SetFailFirst(1)
	errs = append(errs, mailSender.Send(ctx, mailMsg))
	bad := smsConfig(smsSink)
	bad.Token = "wrong"
	errs = append(errs, delivery.NewSMS(bad).Send(ctx, smsMsg))
	smsSink.SetFailures(1, http.StatusTooManyRequests, time.Second)
	errs = append(errs, smsSender.Send(ctx, smsMsg))
	slow := smsConfig(smsSink)
	slow.Timeout = 50 * time.Millisecond
	smsSink.SetResponseDelay(200 * time.Millisecond)
	errs = append(errs, delivery.NewSMS(slow).Send(ctx, smsMsg))
	smsSink.SetResponseDelay(0)
	errs = append(errs, delivery.NewSMTP(delivery.SMTPConfig{Host: "127.0.0.1", Port: 1, From: "a@b.example", TLS: "none"}).Send(ctx, mailMsg))

	// through the queues: a refused mail, an SMS retried then sent, one expired
	errs = append(errs, mailQ.Enqueue(mailMsg, time.Now().Add(time.Minute)))
	smsSink.SetFailFirst(1)
	errs = append(errs, smsQ.Enqueue(smsMsg, time.Now().Add(time.Minute)))
	eventually(t, 5*time.Second, "both queues done", func() bool { return mailQ.Pending() == 0 && smsQ.Pending() == 0 })
	smsSink.SetFailures(100, http.StatusBadGateway, 0)
	expiring := smsMsg
	expiring.VoterID = "V-LEAK-3"
	errs = append(errs, smsQ.Enqueue(expiring, time.Now().Add(300*time.Millisecond)))
	eventually(t, 3*time.Second, "expired", func() bool { return smsQ.Status("V-LEAK-3").State == delivery.Failed })
	errs = append(errs, smsQ.Enqueue(smsMsg, time.Now().Add(-time.Second))) // past deadline
	// a full queue
	blocked := delivery.NewQueue(newGate(), delivery.QueueOptions{Channel: "mail", Buffer: 1, Logger: logger})
	errs = append(errs, blocked.Enqueue(mailMsg, time.Time{}), blocked.Enqueue(mailMsg, time.Time{}))
	shortCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	errs = append(errs, blocked.Close(shortCtx))
	for _, q := range []*delivery.Queue{mailQ, smsQ} {
		errs = append(errs, q.Close(ctx))
	}

	var texts []string
	var failures int
	for _, err := range errs {
		if err != nil {
			failures++
			texts = append(texts, err.Error())
		}
	}
	for _, id := range []string{"V-LEAK-1", "V-LEAK-2", "V-LEAK-3"} {
		for _, q := range []*delivery.Queue{mailQ, smsQ} {
			texts = append(texts, q.Status(id).Reason)
		}
	}
	errorText := strings.Join(texts, "\n")
	t.Logf("%d errors and statuses:\n%s", failures, errorText)
	if failures < 8 {
		t.Errorf("only %d errors: the scenarios did not fail as planned", failures)
	}
	mustNotContain(t, "errors and statuses", errorText, secrets...)

	logText := logs.String()
	if !strings.Contains(logText, "V-LEAK-1") || !strings.Contains(logText, "V-LEAK-3") ||
		!strings.Contains(logText, `"outcome":"expired"`) || !strings.Contains(logText, `"outcome":"rejected"`) {
		t.Errorf("the log lacks the voter ids or outcomes:\n%s", logText)
	}
	mustNotContain(t, "log", logText, secrets...)
	mustNotContain(t, "log", logText, "Votre code", "Congrès :")

	metrics := metricsText(t, reg)
	if !strings.Contains(metrics, "scrutin_codes_sent_total") || !strings.Contains(metrics, `result="expired"`) {
		t.Errorf("metrics lack the delivery counters:\n%s", metrics)
	}
	mustNotContain(t, "metrics", metrics, secrets...)
	mustNotContain(t, "metrics", metrics, "V-LEAK")

	// the messages did get through where they should, codes intact
	if got, err := smsSink.WaitFor(phone, time.Second); err != nil || sink.CodeIn(got.Text) != code {
		t.Errorf("SMS: %v %q", err, got.Text)
	}
	if got, err := smtpSink.WaitFor(email, time.Second); err != nil || sink.CodeIn(got.Body) != code {
		t.Errorf("mail: %v %q", err, got.Body)
	}
}
