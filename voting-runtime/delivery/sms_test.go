package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

const smsToken = "gw-token-7f3a"

func smsConfig(s *sink.SMSSink) delivery.SMSConfig {
	return delivery.SMSConfig{URL: s.URL(), Token: smsToken, Sender: "Scrutin", Timeout: 5 * time.Second}
}

func TestSMSSendsToSink(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	m := delivery.Message{VoterID: "A-003", To: "+33612345678", Body: "Congrès 2027 : votre code de connexion est 904512."}
	if err := delivery.NewSMS(smsConfig(s)).Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got, err := s.WaitFor("+33612345678", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got.To != m.To || got.Text != m.Body || got.Sender != "Scrutin" {
		t.Errorf("gateway got %+v", got)
	}
	if c := sink.CodeIn(got.Text); c != "904512" {
		t.Errorf("CodeIn = %q", c)
	}
	if r := s.Requests(); len(r) != 1 || r[0].Status != http.StatusAccepted {
		t.Errorf("requests = %+v", r)
	}
}

// TestSMSWireFormat checks the request itself against the documented protocol,
// with a plain httptest server.
func TestSMSWireFormat(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, auth, ctype string
		body                map[string]any
	}
	got := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		got <- seen{r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for _, sender := range []string{"Scrutin", ""} {
		cfg := delivery.SMSConfig{URL: srv.URL + "/send", Token: "tok", Sender: sender}
		if err := delivery.NewSMS(cfg).Send(context.Background(), delivery.Message{To: "+3361", Body: "code 123456"}); err != nil {
			t.Fatal(err)
		}
		s := <-got
		if s.method != "POST" || s.auth != "Bearer tok" || s.ctype != "application/json" {
			t.Errorf("request %s, Authorization %q, Content-Type %q", s.method, s.auth, s.ctype)
		}
		want := map[string]any{"to": "+3361", "text": "code 123456"}
		if sender != "" {
			want["sender"] = sender
		}
		if len(s.body) != len(want) {
			t.Errorf("body %v, want %v", s.body, want)
		}
		for k, v := range want {
			if s.body[k] != v {
				t.Errorf("body[%s] = %v, want %v", k, s.body[k], v)
			}
		}
	}
}

func TestSMSWrongTokenIsPermanent(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	cfg := smsConfig(s)
	cfg.Token = "not-the-token"
	err := delivery.NewSMS(cfg).Send(context.Background(), delivery.Message{To: "+33612345678", Body: "code 111222"})
	if err == nil || !delivery.IsPermanent(err) || asError(t, err).Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v, want a permanent 401", err)
	}
	mustNotContain(t, "error", err.Error(), "not-the-token", "+33612345678", "111222")
	if n := len(s.Accepted()); n != 0 {
		t.Errorf("gateway accepted %d messages with a wrong token", n)
	}
}

func TestSMSStatusClasses(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	sender := delivery.NewSMS(smsConfig(s))
	for _, c := range []struct {
		status     int
		retryAfter time.Duration
		permanent  bool
	}{
		{400, 0, true}, {403, 0, true}, {404, 0, true}, {422, 0, true},
		{408, 0, false}, {429, 3 * time.Second, false}, {500, 0, false},
		{502, 0, false}, {503, 7 * time.Second, false}, {504, 0, false},
	} {
		s.SetFailures(1, c.status, c.retryAfter)
		err := sender.Send(context.Background(), delivery.Message{To: "+33612345678", Body: "code 333444"})
		if err == nil {
			t.Errorf("HTTP %d: no error", c.status)
			continue
		}
		e := asError(t, err)
		if e.Permanent != c.permanent || e.Code != c.status || e.RetryAfter != c.retryAfter {
			t.Errorf("HTTP %d: %q permanent=%v code=%d retryAfter=%v; want permanent=%v retryAfter=%v",
				c.status, e, e.Permanent, e.Code, e.RetryAfter, c.permanent, c.retryAfter)
		}
	}
}

func TestSMSBadRecipientSendsNothing(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	for _, to := range []string{"0612345678", "+33 6 12 34 56 78", "jeanne@example.org", "+"} {
		err := delivery.NewSMS(smsConfig(s)).Send(context.Background(), delivery.Message{To: to, Body: "code 123456"})
		if !delivery.IsPermanent(err) {
			t.Errorf("To %q: %v, want a permanent error", to, err)
		}
		mustNotContain(t, "error", err.Error(), to)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests for invalid numbers", n)
	}
}

func TestSMSSlowGatewayTimesOut(t *testing.T) {
	t.Parallel()
	s := sink.StartSMS(t, smsToken)
	s.SetResponseDelay(2 * time.Second)
	cfg := smsConfig(s)
	cfg.Timeout = 200 * time.Millisecond
	start := time.Now()
	err := delivery.NewSMS(cfg).Send(context.Background(), delivery.Message{To: "+33612345678", Body: "code 123456"})
	took := time.Since(start)
	t.Logf("slow gateway: %v after %v", err, took)
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "in time") {
		t.Errorf("error %v, want a temporary time-out", err)
	}
	if took > time.Second {
		t.Errorf("took %v with a 200ms timeout", took)
	}
	time.Sleep(2100 * time.Millisecond)
	if n := len(s.Accepted()); n != 0 {
		t.Errorf("the gateway kept %d messages whose client gave up", n)
	}
}

func TestSMSUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/send?api_key=secret-in-url"
	l.Close()
	start := time.Now()
	err = delivery.NewSMS(delivery.SMSConfig{URL: url, Token: "t"}).Send(context.Background(),
		delivery.Message{To: "+33612345678", Body: "code 123456"})
	t.Logf("closed port: %v after %v", err, time.Since(start))
	if err == nil || delivery.IsPermanent(err) {
		t.Fatalf("error %v, want a temporary error", err)
	}
	mustNotContain(t, "error", err.Error(), "secret-in-url", "+33612345678", "123456")
}

func TestSMSBadSettings(t *testing.T) {
	t.Parallel()
	for _, cfg := range []delivery.SMSConfig{
		{},
		{URL: "ftp://gw.example/send", Token: "t"},
		{URL: "https://gw.example/send"},
		{URL: "https://gw.example/send", Token: "a\nb"},
	} {
		err := delivery.NewSMS(cfg).Send(context.Background(), delivery.Message{To: "+33612345678", Body: "x"})
		if !delivery.IsPermanent(err) {
			t.Errorf("%v: Send = %v, want a permanent error", cfg, err)
		}
	}
}
