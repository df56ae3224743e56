package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
	"scrutin.dev/scrutin/voting-runtime/delivery"
	"scrutin.dev/scrutin/voting-runtime/delivery/sink"
	"scrutin.dev/scrutin/voting-runtime/engine"
	"scrutin.dev/scrutin/voting-runtime/enginetest"
)

type fixture struct {
	srv   *Server
	en    *engine.Engine
	smtp  *sink.SMTPSink
	clock *enginetest.Clock
	reg   *prometheus.Registry
}

// newFixture serves an open election (EmailCode, mail to a real sink) over a real
// engine and store, with cfg's limits; the engine's voter limit is its default.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	opens := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	e := &scrutinv1.Election{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "board"},
		Spec: scrutinv1.ElectionSpec{
			Title: "Board", Organization: "Association",
			Schedule:  scrutinv1.Schedule{OpensAt: metav1.NewTime(opens), ClosesAt: metav1.NewTime(opens.Add(10 * time.Hour))},
			Questions: []scrutinv1.Question{{ID: "chair", Prompt: "Chair?", Options: []scrutinv1.Option{{ID: "alice", Label: "Alice"}, {ID: "bob", Label: "Bob"}}}},
		},
	}
	e.Default()
	st, h := enginetest.Store(t)
	var err error
	f := &fixture{smtp: sink.StartSMTP(t), clock: enginetest.NewClock(opens.Add(time.Hour)), reg: prometheus.NewRegistry()}
	mail := enginetest.Outbox(t, st, enginetest.OutboxOptions{Now: f.clock.Now,
		Mail: delivery.NewSMTP(delivery.SMTPConfig{Host: f.smtp.Host(), Port: f.smtp.Port(), From: "vote@example.org", TLS: "none", Timeout: 5 * time.Second})})
	if f.en, err = engine.New(engine.Config{Election: e, Store: st, Hasher: h, Outbox: mail, Now: f.clock.Now, Registerer: f.reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.en.ImportRoll(ctx, strings.NewReader(enginetest.Roll)); err != nil {
		t.Fatal(err)
	}
	cfg.Engine, cfg.Registerer = f.en, f.reg
	f.srv = New(cfg)
	return f
}

// answer is a response of the API.
type answer struct {
	status int
	header http.Header
	body   apiError
}

// post sends a JSON request from remote (host:port), with header pairs.
func (f *fixture) post(t *testing.T, path, remote string, body any, header ...string) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
	r.RemoteAddr = remote
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	a := answer{status: w.Code, header: w.Header()}
	_ = json.Unmarshal(w.Body.Bytes(), &a.body)
	return a
}

func (a answer) wantRateLimited(t *testing.T, what string) {
	t.Helper()
	if a.status != http.StatusTooManyRequests || a.body.Error != "rate-limited" || a.body.RetryAfterSeconds < 1 ||
		a.header.Get("Retry-After") != fmt.Sprint(a.body.RetryAfterSeconds) {
		t.Fatalf("%s: %d %+v Retry-After %q; want 429 rate-limited with a delay", what, a.status, a.body, a.header.Get("Retry-After"))
	}
}

func limited(t *testing.T, reg *prometheus.Registry, by string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "scrutin_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == by {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no scrutin_rate_limited_total{by=%q}", by)
	return 0
}

// TestFloodOnOneVoter: a flood of sign-in and code requests for one voter gets 429
// with Retry-After once past the voter's burst (10), while another voter signs in
// at the same time; the voter gets one step back 3 s later.
func TestFloodOnOneVoter(t *testing.T) {
	f := newFixture(t, Config{})
	for i := range 10 {
		if a := f.post(t, "/api/v1/sign-in/code", "192.0.2.1:4000", codeRequest{VoterID: "V-1", Code: "000000"}); a.status != http.StatusGone {
			t.Fatalf("step %d of the burst: %d %+v, want 410 (no code asked for)", i+1, a.status, a.body)
		}
	}
	var wg sync.WaitGroup
	answers := make(chan answer, 100)
	for i := range 100 {
		wg.Go(func() {
			if i%2 == 0 {
				answers <- f.post(t, "/api/v1/sign-in", "192.0.2.1:4000", signInRequest{VoterID: "V-1"})
			} else {
				answers <- f.post(t, "/api/v1/sign-in/code", "192.0.2.1:4000", codeRequest{VoterID: "V-1", Code: "123456"})
			}
		})
	}
	if a := f.post(t, "/api/v1/sign-in", "192.0.2.9:4000", signInRequest{VoterID: "V-2"}); a.status != http.StatusAccepted {
		t.Fatalf("another voter during the flood: %d %+v", a.status, a.body)
	}
	m, err := f.smtp.WaitFor("jean@example.org", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a := f.post(t, "/api/v1/sign-in/code", "192.0.2.9:4000", codeRequest{VoterID: "V-2", Code: sink.CodeIn(m.Body)}); a.status != http.StatusOK {
		t.Fatalf("another voter's code during the flood: %d %+v", a.status, a.body)
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		a.wantRateLimited(t, "past the voter's burst")
		if a.body.RetryAfterSeconds != 3 {
			t.Fatalf("retry after %d s, want 3", a.body.RetryAfterSeconds)
		}
	}
	if got := limited(t, f.reg, "voter"); got != 100 {
		t.Errorf("scrutin_rate_limited_total{by=voter} = %v, want 100", got)
	}
	f.clock.Add(3 * time.Second)
	if a := f.post(t, "/api/v1/sign-in", "192.0.2.1:4000", signInRequest{VoterID: "V-1"}); a.status != http.StatusAccepted {
		t.Fatalf("3 s later: %d %+v", a.status, a.body)
	}
}

// TestFloodFromOneAddress: past the burst, sign-in steps from one address are
// refused before they reach the engine; another address signs in; the address's
// other requests (not sign-in steps) are served as usual.
func TestFloodFromOneAddress(t *testing.T) {
	f := newFixture(t, Config{SignInRatePerAddress: 0.01, SignInBurstPerAddress: 5})
	for i := range 5 {
		if a := f.post(t, "/api/v1/sign-in", "192.0.2.1:4000", signInRequest{VoterID: fmt.Sprint("X-", i)}); a.status != http.StatusNotFound {
			t.Fatalf("request %d of the burst: %d %+v, want 404 (unknown voter)", i+1, a.status, a.body)
		}
	}
	for _, path := range []string{"/api/v1/sign-in", "/api/v1/sign-in/code"} {
		a := f.post(t, path, "192.0.2.1:5000", codeRequest{VoterID: "V-1", Code: "123456"})
		a.wantRateLimited(t, path+" past the address's burst")
		if a.body.RetryAfterSeconds != 100 {
			t.Errorf("retry after %d s, want 100 (one token every 100 s)", a.body.RetryAfterSeconds)
		}
	}
	if a := f.post(t, "/api/v1/sign-in", "192.0.2.2:4000", signInRequest{VoterID: "V-1"}); a.status != http.StatusAccepted {
		t.Fatalf("another address: %d %+v", a.status, a.body)
	}
	if a := f.post(t, "/api/v1/ballot", "192.0.2.1:4000", castRequest{}); a.status != http.StatusUnauthorized {
		t.Errorf("a cast from the limited address: %d %+v, want 401 (no session), not limited", a.status, a.body)
	}
	if got := limited(t, f.reg, "address"); got != 2 {
		t.Errorf("scrutin_rate_limited_total{by=address} = %v, want 2", got)
	}

	// A person on the pages gets the wait page.
	var waited int
	f.srv.cfg.WaitPage = func(w http.ResponseWriter, _ *http.Request, seconds int) {
		waited = seconds
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	r := httptest.NewRequest(http.MethodPost, "/sign-in/code", strings.NewReader("voter_id=V-1&code=123456"))
	r.RemoteAddr = "192.0.2.1:4000"
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || waited < 99 {
		t.Errorf("the code page past the address's burst: %d, waited %d s; want the wait page for about 100 s", w.Code, waited)
	}
}

// TestFloodFromOneAddressOverTheNetwork: the address is the connection's; Linux
// accepts any 127.0.0.0/8 source, so a client on 127.0.0.2 is another address.
func TestFloodFromOneAddressOverTheNetwork(t *testing.T) {
	f := newFixture(t, Config{SignInRatePerAddress: 0.01, SignInBurstPerAddress: 3})
	ts := httptest.NewServer(f.srv)
	defer ts.Close()
	from := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	}
	post := func(c *http.Client) int {
		res, err := c.Post(ts.URL+"/api/v1/sign-in", "application/json", strings.NewReader(`{"voterId":"nobody"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	one, two := from("127.0.0.1"), from("127.0.0.2")
	for range 3 {
		if got := post(one); got != http.StatusNotFound {
			t.Fatalf("within the burst: %d, want 404", got)
		}
	}
	if got := post(one); got != http.StatusTooManyRequests {
		t.Fatalf("127.0.0.1 past the burst: %d, want 429", got)
	}
	if got := post(two); got != http.StatusNotFound {
		t.Fatalf("127.0.0.2 while 127.0.0.1 is limited: %d, want 404", got)
	}
}

// TestClientIPHeader: behind a proxy, the last address of the named header (the
// one the proxy appended) is the client's, whatever the client wrote before it;
// without the option the header is ignored, so nobody picks their own address.
func TestClientIPHeader(t *testing.T) {
	f := newFixture(t, Config{SignInRatePerAddress: 0.01, SignInBurstPerAddress: 2, ClientIPHeader: "X-Forwarded-For"})
	proxy := "10.0.0.5:40000"
	for range 2 {
		f.post(t, "/api/v1/sign-in", proxy, signInRequest{VoterID: "nobody"}, "X-Forwarded-For", "10.0.0.1, 203.0.113.7")
	}
	// a client writing another address first is still itself
	f.post(t, "/api/v1/sign-in", proxy, signInRequest{VoterID: "nobody"}, "X-Forwarded-For", "198.51.100.1, 203.0.113.7").wantRateLimited(t, "203.0.113.7 past its burst")
	if a := f.post(t, "/api/v1/sign-in", proxy, signInRequest{VoterID: "nobody"}, "X-Forwarded-For", "203.0.113.7, 203.0.113.8"); a.status != http.StatusNotFound {
		t.Fatalf("another client behind the same proxy: %d %+v, want 404", a.status, a.body)
	}

	f = newFixture(t, Config{SignInRatePerAddress: 0.01, SignInBurstPerAddress: 2})
	for i := range 2 {
		f.post(t, "/api/v1/sign-in", "192.0.2.1:4000", signInRequest{VoterID: "nobody"}, "X-Forwarded-For", fmt.Sprint("203.0.113.", i))
	}
	f.post(t, "/api/v1/sign-in", "192.0.2.1:4000", signInRequest{VoterID: "nobody"}, "X-Forwarded-For", "203.0.113.99").
		wantRateLimited(t, "a header not trusted, with a new address in it")
}

func TestClientAddress(t *testing.T) {
	s := &Server{cfg: Config{ClientIPHeader: "X-Forwarded-For"}}
	for _, tc := range []struct{ remote, header, want string }{
		{"192.0.2.1:4000", "", "192.0.2.1"},
		{"192.0.2.1:4000", "10.0.0.1, 203.0.113.7", "203.0.113.7"},
		{"192.0.2.1:4000", " 203.0.113.7 ", "203.0.113.7"},
		{"192.0.2.1:4000", "not-an-address", "192.0.2.1"},
		{"192.0.2.1:4000", "::ffff:203.0.113.7", "203.0.113.7"},
		{"[2001:db8:1:2:3:4:5:6]:4000", "", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::9]:4000", "", "2001:db8:1:2::/64"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/sign-in", nil)
		r.RemoteAddr = tc.remote
		if tc.header != "" {
			r.Header.Set("X-Forwarded-For", tc.header)
		}
		if got := s.clientAddress(r); got != tc.want {
			t.Errorf("%s with %q: %q, want %q", tc.remote, tc.header, got, tc.want)
		}
	}
}

// TestClientAddressTrustedProxies: behind a load balancer the ingress trusts,
// the header ends with the balancer's address (appended by the ingress): the
// client is the last address that is not a trusted proxy's. An address a client
// wrote is never skipped unless it is a trusted proxy's, and nothing before an
// entry that is no address counts.
func TestClientAddressTrustedProxies(t *testing.T) {
	s := &Server{cfg: Config{ClientIPHeader: "X-Forwarded-For",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.10.0.1/32"), netip.MustParsePrefix("192.168.0.0/24")}}}
	cases := map[string]struct {
		headers []string
		want    string
	}{
		"the balancer's declared client":    {[]string{"203.0.113.7, 10.10.0.1"}, "203.0.113.7"},
		"two trusted hops":                  {[]string{"203.0.113.7, 192.168.0.4, 10.10.0.1"}, "203.0.113.7"},
		"a spoofed entry before the client": {[]string{"198.51.100.1, 203.0.113.7, 10.10.0.1"}, "203.0.113.7"},
		"a client straight to the ingress":  {[]string{"203.0.113.8"}, "203.0.113.8"},
		"the balancer itself":               {[]string{"10.10.0.1"}, "10.10.0.1"},
		"only trusted entries":              {[]string{"192.168.0.4, 10.10.0.1"}, "192.168.0.4"},
		"over two header lines":             {[]string{"203.0.113.7", "10.10.0.1"}, "203.0.113.7"},
		"no address behind the balancer":    {[]string{"not-an-address, 10.10.0.1"}, "192.0.2.1"},
		"a mapped IPv4 balancer":            {[]string{"203.0.113.7, ::ffff:10.10.0.1"}, "203.0.113.7"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/sign-in", nil)
			r.RemoteAddr = "192.0.2.1:4000"
			for _, h := range tc.headers {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := s.clientAddress(r); got != tc.want {
				t.Errorf("%q: %q, want %q", tc.headers, got, tc.want)
			}
		})
	}
}

func TestIsSignInStep(t *testing.T) {
	for path, want := range map[string]bool{
		"/api/v1/sign-in": true, "/api/v1/sign-in/code": true, "/sign-in": true, "/sign-in/code": true, "/sign-in/resend": true,
		"/api/v1/ballot": false, "/ballot/confirm": false, "/ballot": false, "/session/extend": false, "/api/v1/session/extend": false,
	} {
		if got := isSignInStep(httptest.NewRequest(http.MethodPost, path, nil)); got != want {
			t.Errorf("POST %s: %v, want %v", path, got, want)
		}
	}
	if isSignInStep(httptest.NewRequest(http.MethodGet, "/sign-in", nil)) {
		t.Error("GET /sign-in (the page) counted as a sign-in step")
	}
}
