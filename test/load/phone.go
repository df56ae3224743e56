package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
)

// Phones is an SMS gateway on 127.0.0.1 speaking the protocol of delivery.NewSMS
// (POST {"to","text","sender"} with a bearer token, 202 when accepted), built for
// volume: each accepted message is handed to the simulated voter waiting for its
// number, in constant time, so that 100,000 voters cost no more per message than
// ten. (The test sink in voting-runtime/delivery/sink keeps every message for
// inspection and is scanned per wait.)
type Phones struct {
	token string
	srv   *http.Server
	url   string

	mu    sync.Mutex
	inbox map[string]chan string

	received atomic.Int64

	// keep, when set, records every code sent, for leak scans
	keep  bool
	codes []string
}

// KeepCodes makes the gateway remember every code it passes on (Codes), for
// tests that scan logs and dumps for them; load runs do not keep them.
func (p *Phones) KeepCodes() { p.mu.Lock(); p.keep = true; p.mu.Unlock() }

// Codes are the codes passed on since KeepCodes.
func (p *Phones) Codes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.codes...)
}

// StartPhones listens on a free 127.0.0.1 port.
func StartPhones(token string) (*Phones, error) { return StartPhonesOn(token, "127.0.0.1:0") }

// StartPhonesOn listens on addr (such as the host's side of a local cluster's
// network, for pods to reach).
func StartPhonesOn(token, addr string) (*Phones, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	p := &Phones{token: token, inbox: map[string]chan string{}, url: "http://" + l.Addr().String() + "/v1/sms"}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// URL is the gateway's endpoint, for --sms-gateway.
func (p *Phones) URL() string { return p.url }

// Received counts the messages accepted.
func (p *Phones) Received() int64 { return p.received.Load() }

// Close stops the gateway.
func (p *Phones) Close() error { return p.srv.Close() }

func (p *Phones) box(to string) chan string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.inbox[to]
	if !ok {
		ch = make(chan string, 8)
		p.inbox[to] = ch
	}
	return ch
}

// forget drops a phone's inbox once its voter is done, so memory follows the
// voters in flight, not the whole roll.
func (p *Phones) forget(to string) {
	p.mu.Lock()
	delete(p.inbox, to)
	p.mu.Unlock()
}

// Code waits for the next code sent to phone to.
func (p *Phones) Code(ctx context.Context, to string) (string, error) {
	select {
	case code := <-p.box(to):
		return code, nil
	case <-ctx.Done():
		return "", fmt.Errorf("no code reached %s: %w", to, ctx.Err())
	}
}

func (p *Phones) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+p.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m struct{ To, Text, Sender string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&m); err != nil || m.To == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	code := sink.CodeIn(m.Text)
	if code == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n := p.received.Add(1)
	p.mu.Lock()
	if p.keep {
		p.codes = append(p.codes, code)
	}
	p.mu.Unlock()
	select {
	case p.box(m.To) <- code:
	default: // a voter asking again and again: the oldest codes are not read
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"id":"`+strconv.FormatInt(n, 10)+`"}`)
}
