package delivery

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2027, 3, 14, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":          0,
		"1":         time.Second,
		" 120 ":     2 * time.Minute,
		"0":         0,
		"-3":        0,
		"soon":      0,
		"999999999": 24 * time.Hour,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat):     0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	m := Message{To: "Jeanne.Dupont@Example.org", Body: "Votre code: 482913, credential K7QMA-XW3RD."}
	in := "550 <jeanne.dupont@example.org> refused; code 482913 and K7QMA-XW3RD and the whole " + m.Body
	out := redact(in, m)
	for _, s := range []string{"jeanne.dupont@example.org", "482913", "K7QMA-XW3RD", "Votre code"} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(s)) {
			t.Errorf("redact left %q in %q", s, out)
		}
	}
	p := Message{To: "+33612345678", Body: "code 111222"}
	if out := redact("to 33612345678 and +33612345678", p); strings.Contains(out, "3361234") {
		t.Errorf("redact left the phone: %q", out)
	}
}

func TestBackoffBounds(t *testing.T) {
	q := &Outbox{initial: time.Second, max: time.Minute}
	for n, base := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60} {
		base *= time.Second
		for range 200 {
			if d := q.backoff(n + 1); d < base/2 || d > base {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n+1, d, base/2, base)
			}
		}
	}
	if d := q.backoff(1000); d > time.Minute {
		t.Errorf("backoff(1000) = %v", d)
	}
}
