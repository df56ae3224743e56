package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := map[string]struct {
		method, path string
		want         Priority
		exempt       bool
	}{
		"API cast":          {"POST", "/api/v1/ballot", PriorityCast, false},
		"page confirm":      {"POST", "/ballot/confirm", PriorityCast, false},
		"API code":          {"POST", "/api/v1/sign-in/code", PriorityCode, false},
		"page code":         {"POST", "/sign-in/code", PriorityCode, false},
		"ballot to review":  {"POST", "/ballot", PriorityCode, false},
		"extend session":    {"POST", "/session/extend", PriorityCode, false},
		"API sign-in":       {"POST", "/api/v1/sign-in", PrioritySignIn, false},
		"page sign-in":      {"POST", "/sign-in", PrioritySignIn, false},
		"resend":            {"POST", "/sign-in/resend", PrioritySignIn, false},
		"sign-in page":      {"GET", "/sign-in", PriorityOther, false},
		"ballot page":       {"GET", "/ballot", PriorityCode, false},
		"API ballot":        {"GET", "/api/v1/ballot", PriorityCode, false},
		"receipt page":      {"GET", "/receipt", PriorityOther, false},
		"stylesheet":        {"GET", "/static/style.css", 0, true},
		"page":              {"GET", "/board", PriorityOther, false},
		"controller status": {"GET", "/control/v1/status", PriorityOther, false},
		"controller close":  {"POST", "/control/v1/close", PriorityOther, false},
		"readiness":         {"GET", "/readyz", PriorityOther, false},
		"metrics":           {"GET", "/metrics", PriorityOther, false},
		"liveness":          {"GET", "/healthz", 0, true},
	}
	for name, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.AddCookie(&http.Cookie{Name: SessionCookie, Value: "a-session"})
		p, exempt := classify(r)
		if exempt != tc.exempt || (!exempt && p != tc.want) {
			t.Errorf("%s: priority %d exempt %v, want %d exempt %v", name, p, exempt, tc.want, tc.exempt)
		}
	}
}

// TestAnonymousClientsHoldNoVoterPlaces: without a session cookie, a request to a
// voter's route (a cast, the ballot) has the lowest priority: anonymous clients
// never take the places kept for voters holding a session.
func TestAnonymousClientsHoldNoVoterPlaces(t *testing.T) {
	for _, tc := range []struct{ method, path string }{
		{"POST", "/api/v1/ballot"}, {"POST", "/ballot/confirm"}, {"POST", "/ballot"}, {"POST", "/session/extend"},
		{"GET", "/ballot"}, {"GET", "/api/v1/ballot"}, {"POST", "/api/v1/session/extend"},
	} {
		if p, _ := classify(httptest.NewRequest(tc.method, tc.path, nil)); p != PriorityOther {
			t.Errorf("%s %s without a session: priority %d, want %d (other)", tc.method, tc.path, p, PriorityOther)
		}
	}
}

// TestAdmissionSharesTheBound: with a bound of 20, other requests fill 10 places,
// sign-ins 12, code checks 16, and casts all 20; a place freed admits again.
func TestAdmissionSharesTheBound(t *testing.T) {
	a := newAdmission(20, nil)
	fill := func(p Priority) int {
		n := 0
		for a.admit(p) {
			n++
		}
		return n
	}
	if got := fill(PriorityOther); got != 10 {
		t.Errorf("other requests admitted: %d, want 10", got)
	}
	if got := fill(PrioritySignIn); got != 2 {
		t.Errorf("then sign-ins admitted: %d, want 2 (up to 12)", got)
	}
	if got := fill(PriorityCode); got != 4 {
		t.Errorf("then code checks admitted: %d, want 4 (up to 16)", got)
	}
	if got := fill(PriorityCast); got != 4 {
		t.Errorf("then casts admitted: %d, want 4 (up to 20)", got)
	}
	if a.admit(PriorityOther) || a.admit(PriorityCast) {
		t.Fatal("admitted past the bound")
	}
	a.done()
	if !a.admit(PriorityCast) {
		t.Error("a freed place does not admit a cast")
	}
	if unbounded := newAdmission(0, nil); !unbounded.admit(PriorityOther) {
		t.Error("a bound of 0 must admit everything")
	}
}
