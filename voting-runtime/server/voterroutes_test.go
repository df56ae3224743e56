package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryVoterRouteLimitedPerAddress: only the sign-in steps were limited per
// client address; every voter route now is (pages and API, a cast too), before a
// place in flight is taken, and the connection of a refused request is closed.
// Probes are never limited.
func TestEveryVoterRouteLimitedPerAddress(t *testing.T) {
	f := newFixture(t, Config{RatePerAddress: 0.01, BurstPerAddress: 3})
	get := func(path, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := get("/api/v1/board", "192.0.2.1:4000"); w.Code == http.StatusTooManyRequests {
			t.Fatalf("request %d within the burst: 429", i+1)
		}
	}
	a := f.post(t, "/api/v1/ballot", "192.0.2.1:4000", castRequest{})
	a.wantRateLimited(t, "a cast past the address's burst")
	if a.header.Get("Connection") != "close" {
		t.Errorf("Connection %q, want close: the body of a refused request is not read", a.header.Get("Connection"))
	}
	if w := get("/api/v1/board", "192.0.2.2:4000"); w.Code == http.StatusTooManyRequests {
		t.Error("another address is limited")
	}
	if w := get("/healthz", "192.0.2.1:4000"); w.Code != http.StatusOK {
		t.Errorf("a probe from the limited address: %d", w.Code)
	}
	if got := limited(t, f.reg, "address-all-routes"); got != 1 {
		t.Errorf("scrutin_rate_limited_total{by=address-all-routes} = %v, want 1", got)
	}
}

// TestCrossOriginRefusedBeforeLimitsAndAdmission: a browser's state-changing
// request from another site is refused (403) before the per-address limit or the
// admission control could answer it with a wait page; the API's too.
func TestCrossOriginRefusedBeforeLimitsAndAdmission(t *testing.T) {
	var waited bool
	f := newFixture(t, Config{RatePerAddress: 0.01, BurstPerAddress: 1, MaxInFlight: 1,
		WaitPage: func(w http.ResponseWriter, _ *http.Request, _ int) {
			waited = true
			w.WriteHeader(http.StatusServiceUnavailable)
		},
		Forbidden: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) }})
	f.post(t, "/api/v1/sign-in", "192.0.2.1:4000", signInRequest{VoterID: "V-1"}) // the burst is spent
	for _, path := range []string{"/ballot/confirm", "/sign-in"} {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("q_chair=bob"))
		r.RemoteAddr = "192.0.2.1:4000"
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || waited {
			t.Errorf("%s from another site: %d (wait page: %v), want 403", path, w.Code, waited)
		}
	}
	a := f.post(t, "/api/v1/ballot", "192.0.2.1:4000", castRequest{}, "Origin", "https://evil.example")
	if a.status != http.StatusForbidden || a.body.Error != "cross-origin" {
		t.Errorf("a cast from another site: %d %+v, want 403 cross-origin", a.status, a.body)
	}
}

// TestJSONBodiesStrict: the API took any content type and ignored what followed
// the JSON value.
func TestJSONBodiesStrict(t *testing.T) {
	f := newFixture(t, Config{})
	for name, tc := range map[string]struct {
		contentType, body string
		want              int
	}{
		"text/plain":       {"text/plain", `{"voterId":"V-1"}`, http.StatusUnsupportedMediaType},
		"form":             {"application/x-www-form-urlencoded", `{"voterId":"V-1"}`, http.StatusUnsupportedMediaType},
		"none":             {"", `{"voterId":"V-1"}`, http.StatusUnsupportedMediaType},
		"trailing value":   {"application/json", `{"voterId":"V-1"}{"voterId":"V-2"}`, http.StatusBadRequest},
		"trailing garbage": {"application/json", `{"voterId":"V-1"} x`, http.StatusBadRequest},
		"too large":        {"application/json", `{"voterId":"` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge},
		"json, charset":    {"application/json; charset=utf-8", `{"voterId":"V-1"}` + "\n", http.StatusAccepted},
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/sign-in", strings.NewReader(tc.body))
		r.RemoteAddr = "192.0.2.9:4000"
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		w := httptest.NewRecorder()
		f.srv.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: %d %s, want %d", name, w.Code, w.Body, tc.want)
		}
	}
}
