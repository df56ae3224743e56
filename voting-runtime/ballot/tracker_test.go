package ballot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"testing"
)

var trackerForm = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestNewTracker(t *testing.T) {
	payload := Encode(validAnswers())
	seen := map[string]bool{}
	for range 1000 {
		tr, err := NewTracker(payload)
		if err != nil {
			t.Fatalf("NewTracker: %v", err)
		}
		if !trackerForm.MatchString(tr) {
			t.Fatalf("tracker %q is not 64 lower-case hex characters", tr)
		}
		if seen[tr] {
			t.Fatalf("tracker %s given twice for the same payload", tr)
		}
		seen[tr] = true
		if sum := sha256.Sum256(payload); tr == hex.EncodeToString(sum[:]) {
			t.Fatalf("tracker is the bare hash of the payload")
		}
	}
}

func TestTrackerIsHashOfRandomThenPayload(t *testing.T) {
	random := bytes.Repeat([]byte{0xA5}, 32)
	payload := []byte(`{"mayor":["bob"]}`)
	got, err := newTracker(bytes.NewReader(append(random, 0xFF)), payload)
	if err != nil {
		t.Fatalf("newTracker: %v", err)
	}
	sum := sha256.Sum256(append(append([]byte{}, random...), payload...))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("tracker = %s, want SHA-256(random || payload) = %s", got, want)
	}
}

func TestTrackerRandomFailure(t *testing.T) {
	if tr, err := newTracker(strings.NewReader("short"), []byte("{}")); err == nil || tr != "" {
		t.Errorf("newTracker with too little randomness = %q, %v; want an error", tr, err)
	}
	boom := errors.New("boom")
	if _, err := newTracker(failingReader{boom}, []byte("{}")); !errors.Is(err, boom) {
		t.Errorf("newTracker error = %v, want %v", err, boom)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestShortTracker(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"full tracker": {in: "7f3a9c2104be" + strings.Repeat("0", 52), want: "7f3a-9c21-04be"},
		"exactly 12":   {in: "7f3a9c2104be", want: "7f3a-9c21-04be"},
		"too short":    {in: "7f3a9c21", want: "7f3a9c21"},
		"empty":        {in: "", want: ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ShortTracker(tt.in); got != tt.want {
				t.Errorf("ShortTracker(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	tr, err := NewTracker([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if s := ShortTracker(tr); !regexp.MustCompile(`^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$`).MatchString(s) || !strings.HasPrefix(tr, strings.ReplaceAll(s, "-", "")) {
		t.Errorf("ShortTracker(%s) = %s", tr, s)
	}
}
