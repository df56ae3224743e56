package load

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"scrutin.dev/scrutin/internal/runtimetest"
	"scrutin.dev/scrutin/voting-runtime/belenios"
)

// The steps of a voter's journey, in order. StepCode is the time from asking for
// a code until it reaches the phone (the runtime's delivery queue and the
// gateway), the others are one HTTP request each.
const (
	StepPage    = "sign-in page"  // GET /sign-in
	StepAsk     = "code request"  // POST /api/v1/sign-in
	StepCode    = "code delivery" // until the SMS reaches the phone
	StepSignIn  = "code check"    // POST /api/v1/sign-in/code: the session
	StepBallot  = "ballot"        // GET /api/v1/ballot
	StepCast    = "cast"          // POST /api/v1/ballot: the receipt
	sessionName = "scrutin_session"
)

// Steps lists the journey's steps in order.
var Steps = []string{StepPage, StepAsk, StepCode, StepSignIn, StepBallot, StepCast}

// Target is what simulated voters vote on.
type Target struct {
	// URL of the runtime (or of the bare baseline server).
	URL string
	// Phones receives the codes; nil for the bare baseline, which sends none and
	// takes any code.
	Phones *Phones
	// Answers cast by every voter.
	Answers map[string][]string
	// MaxRetries of one step answered by the wait page or a rate limit, each after
	// the Retry-After the runtime gave; past it the voter gives up.
	MaxRetries int
	// SameAddress makes every voter come from 127.0.0.1; by default voter i comes
	// from its own loopback address, as voters come from their own homes.
	SameAddress bool
	// CodeTimeout bounds the wait for a code (default 2 minutes).
	CodeTimeout time.Duration
	// ForwardedFor sends voter i's own address in X-Forwarded-For, for runs
	// through a proxy that trusts the load generator as its load balancer (the
	// end-to-end tests' ingress), where every connection comes from one host.
	ForwardedFor bool
	// Dial, when set, wraps the voter's dialer: where its connections go (a
	// Gateway serving host names no resolver knows). TLS, when set, is the
	// voters' TLS configuration for https URLs (trusting a private CA).
	Dial func(*net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error)
	TLS  *tls.Config
	// Encrypted, in the verifiable mode, holds every voter's ballot, encrypted
	// before the run: voter i posts Encrypted.Ballot(i) as {"belenios": …}
	// rather than Answers, and its receipt must be the ballot's tracker.
	Encrypted *EncryptedBallots
}

// DefaultAnswers fit the Election of runtimetest.ElectionYAML.
var DefaultAnswers = map[string][]string{"chair": {"alice"}, "motions": {"m2", "m1"}}

// sourceAddr is voter i's loopback address: Linux answers on all of 127.0.0.0/8.
func sourceAddr(i int) net.IP {
	return net.IPv4(127, byte(1+i>>16%250), byte(i>>8), byte(1+i%250))
}

// voter is one simulated voter: its own connections (a browser of its own), from
// its own address, and its session cookie.
type voter struct {
	t       *Target
	addr    string
	stats   *Stats
	n       int
	id      string
	phone   string
	client  *http.Client
	session string
}

func (t *Target) newVoter(i int, stats *Stats) *voter {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !t.SameAddress {
		d.LocalAddr = &net.TCPAddr{IP: sourceAddr(i)}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}
	if t.Dial != nil {
		tr.DialContext = t.Dial(d)
	}
	if t.TLS != nil {
		tr.TLSClientConfig = t.TLS.Clone()
	}
	return &voter{t: t, stats: stats, addr: sourceAddr(i).String(), n: i, id: runtimetest.VoterID(i), phone: runtimetest.VoterPhone(i),
		client: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// errGaveUp: the voter met the wait page more often than it would bear.
var errGaveUp = errors.New("gave up after repeated wait pages")

// journey walks voter i from the sign-in page to the receipt.
func (t *Target) journey(ctx context.Context, i int, stats *Stats) {
	v := t.newVoter(i, stats)
	defer v.client.CloseIdleConnections()
	if t.Phones != nil {
		defer t.Phones.forget(v.phone)
	}
	started := time.Now()
	receipt, err := v.walk(ctx)
	if err != nil {
		stats.failed(err)
		return
	}
	stats.done(receipt, time.Since(started))
}

func (v *voter) walk(ctx context.Context) (string, error) {
	if err := v.signIn(ctx); err != nil {
		return "", err
	}
	if _, err := v.step(ctx, StepBallot, http.MethodGet, "/api/v1/ballot", nil, http.StatusOK); err != nil {
		return "", err
	}
	return v.cast(ctx)
}

// signIn walks from the sign-in page to a session.
func (v *voter) signIn(ctx context.Context) error {
	if _, err := v.step(ctx, StepPage, http.MethodGet, "/sign-in", nil, http.StatusOK); err != nil {
		return err
	}
	asked := time.Now()
	if _, err := v.step(ctx, StepAsk, http.MethodPost, "/api/v1/sign-in", map[string]string{"voterId": v.id}, http.StatusAccepted); err != nil {
		return err
	}
	code := "000000"
	if v.t.Phones != nil {
		timeout := v.t.CodeTimeout
		if timeout == 0 {
			timeout = 2 * time.Minute
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		c, err := v.t.Phones.Code(cctx, v.phone)
		cancel()
		if err != nil {
			return &stepError{step: StepCode, err: err}
		}
		v.stats.latency(StepCode, time.Since(asked))
		code = c
	}
	_, err := v.step(ctx, StepSignIn, http.MethodPost, "/api/v1/sign-in/code", map[string]string{"voterId": v.id, "code": code}, http.StatusOK)
	return err
}

// cast sends the ballot and returns the receipt.
func (v *voter) cast(ctx context.Context) (string, error) {
	var in any = map[string]any{"answers": v.t.Answers}
	var encrypted []byte
	if v.t.Encrypted != nil {
		if encrypted = v.t.Encrypted.Ballot(v.n); encrypted == nil {
			return "", &stepError{step: StepCast, err: fmt.Errorf("no ballot was made for voter %d", v.n)}
		}
		in = map[string]string{"belenios": string(encrypted)}
	}
	body, err := v.step(ctx, StepCast, http.MethodPost, "/api/v1/ballot", in, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var receipt struct{ Tracker string }
	if err := json.Unmarshal(body, &receipt); err != nil || receipt.Tracker == "" {
		return "", &stepError{step: StepCast, err: fmt.Errorf("no receipt in %q", body)}
	}
	if encrypted != nil && receipt.Tracker != belenios.Tracker(encrypted) {
		return "", &stepError{step: StepCast, err: errWrongTracker}
	}
	return receipt.Tracker, nil
}

// errWrongTracker: the receipt of an encrypted ballot is not its tracker.
var errWrongTracker = errors.New("the receipt is not the ballot's tracker")

// Session is a voter signed in and not yet voted.
type Session struct{ v *voter }

// SignIn signs voter i in (every step up to the session), for runs that measure
// casting alone.
func (t *Target) SignIn(ctx context.Context, i int, stats *Stats) (*Session, error) {
	v := t.newVoter(i, stats)
	if t.Phones != nil {
		defer t.Phones.forget(v.phone)
	}
	defer v.client.CloseIdleConnections()
	if err := v.signIn(ctx); err != nil {
		return nil, err
	}
	return &Session{v: v}, nil
}

// Cast casts the session's ballot, recording into stats, and returns the receipt.
func (s *Session) Cast(ctx context.Context, stats *Stats) (string, error) {
	s.v.stats = stats
	defer s.v.client.CloseIdleConnections()
	started := time.Now()
	receipt, err := s.v.cast(ctx)
	if err != nil {
		stats.failed(err)
		return "", err
	}
	stats.done(receipt, time.Since(started))
	return receipt, nil
}

// stepError is a journey that ended at step.
type stepError struct {
	step   string
	status int
	// reason is what a refusal (4xx) named: its reason, else its error.
	reason string
	err    error
}

func (e *stepError) Error() string {
	if e.err != nil {
		return e.step + ": " + e.err.Error()
	}
	if e.reason != "" {
		return fmt.Sprintf("%s: HTTP %d %s", e.step, e.status, e.reason)
	}
	return fmt.Sprintf("%s: HTTP %d", e.step, e.status)
}

// refusalReason is what a refusal's JSON body names: its reason (an invalid
// ballot's: bad-proof, unknown-credential, …), else its error.
func refusalReason(body []byte) string {
	var ans struct{ Error, Reason string }
	if json.Unmarshal(body, &ans) != nil {
		return ""
	}
	if ans.Reason != "" {
		return ans.Reason
	}
	return ans.Error
}

// step sends one request, waiting and retrying as a person would when told to
// (503 or 429 with Retry-After), and records its latency.
func (v *voter) step(ctx context.Context, name, method, path string, in any, want int) ([]byte, error) {
	var data []byte
	if in != nil {
		data, _ = json.Marshal(in)
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, v.t.URL+path, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if v.session != "" {
			req.AddCookie(&http.Cookie{Name: sessionName, Value: v.session})
		}
		if v.t.ForwardedFor {
			req.Header.Set("X-Forwarded-For", v.addr)
		}
		sent := time.Now()
		resp, err := v.client.Do(req)
		if attempt == 0 && name == StepCast {
			v.stats.castFirst(err == nil && resp.StatusCode == want)
		}
		if err != nil {
			return nil, &stepError{step: name, err: err}
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(sent)
		if err != nil {
			return nil, &stepError{step: name, err: err}
		}
		v.stats.request(resp.StatusCode)
		switch {
		case resp.StatusCode == want:
			for _, c := range resp.Cookies() {
				if c.Name == sessionName {
					v.session = c.Value
				}
			}
			v.stats.latency(name, took)
			return body, nil
		case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			v.stats.turnedAway(name, resp.StatusCode, took)
			if wait <= 0 || attempt >= v.t.MaxRetries {
				return nil, &stepError{step: name, status: resp.StatusCode, err: errGaveUp}
			}
			select {
			case <-time.After(time.Duration(wait) * time.Second):
			case <-ctx.Done():
				return nil, &stepError{step: name, err: ctx.Err()}
			}
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			return nil, &stepError{step: name, status: resp.StatusCode, reason: refusalReason(body)}
		default:
			return nil, &stepError{step: name, status: resp.StatusCode}
		}
	}
}
