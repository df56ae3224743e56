package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestResponsesCounted: every answer is counted by status, so that an alert sees
// errors on our side (5xx) apart from the wait page's 503.
func TestResponsesCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Config{Registerer: reg, Gatherer: reg})
	for _, path := range []string{"/healthz", "/healthz", "/api/v1/no-such-thing"} {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "scrutin_http_responses_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["200"] != 2 || got["404"] != 1 || got["500"] != 0 {
		t.Fatalf("responses counted: %v; want 2 × 200, 1 × 404, and 500 at 0 from the start", got)
	}
}
