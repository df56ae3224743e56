package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// SMS is one message the SMS sink accepted.
type SMS struct {
	To, Text, Sender string
	// ReceivedAt is when the gateway accepted it; it reaches the "phone" (Messages,
	// WaitFor) at DeliveredAt, ReceivedAt plus the delivery delay then in force.
	ReceivedAt, DeliveredAt time.Time
}

// Request is one HTTP request the SMS sink answered.
type Request struct {
	At     time.Time // when it arrived
	Status int       // the status answered (0: the client gave up first)
}

// SMSSink is a real HTTP server (net/http/httptest, on 127.0.0.1) implementing the
// gateway protocol of delivery.NewSMS: POST of {"to","text","sender"} as JSON with
// "Authorization: Bearer <token>". It answers 401 to a wrong token, 400 to a bad
// payload, 405 to another method, and 202 with {"id":"…"} when it accepts.
type SMSSink struct {
	srv   *httptest.Server
	token string

	mu            sync.Mutex
	msgs          []SMS
	requests      []Request
	returned      map[int]bool
	arrived       waiter
	responseDelay time.Duration
	held          chan struct{} // closed by the release Hold returned; nil: not held
	deliveryDelay time.Duration
	failN         int
	failStatus    int
	failRetry     time.Duration
	closed        chan struct{}
	closeOnce     sync.Once
	timers        []*time.Timer
}

// StartSMS starts an SMS gateway sink that accepts the bearer token token, and
// stops it when the test ends.
func StartSMS(t testing.TB, token string) *SMSSink {
	t.Helper()
	return StartSMSOn(t, token, "127.0.0.1:0")
}

// StartSMSOn is StartSMS listening on addr (such as the host's side of a local
// cluster's network, for pods to reach).
func StartSMSOn(t testing.TB, token, addr string) *SMSSink {
	t.Helper()
	s := &SMSSink{token: token, returned: map[int]bool{}, arrived: newWaiter(), closed: make(chan struct{})}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("sink: listening for HTTP: %v", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	s.srv.Start()
	t.Cleanup(s.Close)
	return s
}

// URL is where to POST, e.g. "http://127.0.0.1:41234/v1/sms".
func (s *SMSSink) URL() string { return s.srv.URL + "/v1/sms" }

// SetResponseDelay makes the gateway wait d before answering each request (a slow
// gateway). A message whose client gives up during the wait is not kept.
func (s *SMSSink) SetResponseDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responseDelay = d
}

// Hold makes the gateway keep every request waiting, without an answer, until
// release is called (or the client gives up): a gateway stuck for as long as a
// test needs, whatever its pace. release may be called more than once.
func (s *SMSSink) Hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := make(chan struct{})
	s.held = h
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.held == h {
				s.held = nil
			}
			s.mu.Unlock()
			close(h)
		})
	}
}

// SetDeliveryDelay makes each message accepted from now on visible to Messages
// and WaitFor only d after the gateway accepted it (a slow carrier); the HTTP
// answer is not delayed.
func (s *SMSSink) SetDeliveryDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveryDelay = d
}

// SetFailFirst makes the gateway answer "503 Service Unavailable" with
// "Retry-After: 1" to the next n requests.
func (s *SMSSink) SetFailFirst(n int) { s.SetFailures(n, http.StatusServiceUnavailable, time.Second) }

// SetFailures makes the gateway answer status to the next n requests, with a
// Retry-After header of retryAfter in whole seconds (rounded up) when it is
// positive.
func (s *SMSSink) SetFailures(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.failRetry = n, status, retryAfter
}

// Messages returns the messages delivered so far (past their delivery delay),
// in the order the gateway accepted them.
func (s *SMSSink) Messages() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []SMS
	for _, m := range s.msgs {
		if !now.Before(m.DeliveredAt) {
			out = append(out, m)
		}
	}
	return out
}

// Accepted returns every message the gateway accepted, delivered yet or not.
func (s *SMSSink) Accepted() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMS(nil), s.msgs...)
}

// Requests returns every request answered so far, oldest first.
func (s *SMSSink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// WaitFor returns the oldest delivered message to phone to that WaitFor has not
// returned yet, waiting up to timeout; ErrTimeout if none is delivered in time.
func (s *SMSSink) WaitFor(to string, timeout time.Duration) (SMS, error) {
	var got SMS
	err := waitFor(timeout, func() (bool, <-chan struct{}) {
		s.mu.Lock()
		defer s.mu.Unlock()
		now := time.Now()
		for i, m := range s.msgs {
			if !s.returned[i] && m.To == to && !now.Before(m.DeliveredAt) {
				s.returned[i] = true
				got = m
				return true, nil
			}
		}
		return false, s.arrived.ch
	})
	if err != nil {
		return SMS{}, fmt.Errorf("waiting %v for an SMS: %w", timeout, err)
	}
	return got, nil
}

// Close stops the server; requests waiting on a response delay are answered at
// once. It is called at the end of the test and may be called before.
func (s *SMSSink) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
		s.mu.Lock()
		for _, t := range s.timers {
			t.Stop()
		}
		s.mu.Unlock()
	})
}

func (s *SMSSink) record(at time.Time, status int) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{At: at, Status: status})
	s.mu.Unlock()
}

func (s *SMSSink) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	reply := func(status int, body string) {
		s.record(at, status)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}

	// read the whole request first: the server notices a client that gives up
	// only once the body is read
	raw, readErr := io.ReadAll(io.LimitReader(r.Body, 64<<10))

	s.mu.Lock()
	delay, held := s.responseDelay, s.held
	s.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			s.record(at, 0)
			return
		case <-s.closed:
			reply(http.StatusServiceUnavailable, `{"error":"shutting down"}`)
			return
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.record(at, 0)
			return
		case <-s.closed:
			t.Stop()
			reply(http.StatusServiceUnavailable, `{"error":"shutting down"}`)
			return
		}
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(http.StatusMethodNotAllowed, `{"error":"POST only"}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		reply(http.StatusUnauthorized, `{"error":"bad token"}`)
		return
	}
	s.mu.Lock()
	if s.failN > 0 {
		s.failN--
		status, retry := s.failStatus, s.failRetry
		s.mu.Unlock()
		if retry > 0 {
			secs := int((retry + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		reply(status, `{"error":"try again later"}`)
		return
	}
	s.mu.Unlock()

	var p struct {
		To     string `json:"to"`
		Text   string `json:"text"`
		Sender string `json:"sender"`
	}
	ct := r.Header.Get("Content-Type")
	if ct != "application/json" && ct != "application/json; charset=utf-8" {
		reply(http.StatusUnsupportedMediaType, `{"error":"application/json only"}`)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); readErr != nil || err != nil || p.To == "" || p.Text == "" {
		reply(http.StatusBadRequest, `{"error":"to and text are required"}`)
		return
	}
	if r.Context().Err() != nil {
		s.record(at, 0)
		return
	}

	now := time.Now()
	s.mu.Lock()
	m := SMS{To: p.To, Text: p.Text, Sender: p.Sender, ReceivedAt: now, DeliveredAt: now.Add(s.deliveryDelay)}
	s.msgs = append(s.msgs, m)
	id := len(s.msgs)
	// recorded with the message, so that a test woken by WaitFor sees both
	s.requests = append(s.requests, Request{At: at, Status: http.StatusAccepted})
	s.arrived.notify()
	if s.deliveryDelay > 0 {
		s.timers = append(s.timers, time.AfterFunc(s.deliveryDelay, func() {
			s.mu.Lock()
			s.arrived.notify()
			s.mu.Unlock()
		}))
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = fmt.Fprintf(w, `{"id":"sms-%d","status":"accepted"}`, id)
}
