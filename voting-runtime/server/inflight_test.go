package server

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestInFlightBoundedByKey: a key (a client address, a session) holds at most its
// bound; a place given back is free again, and a key at zero is forgotten.
func TestInFlightBoundedByKey(t *testing.T) {
	b := newInFlightBy(2)
	if !b.acquire("a") || !b.acquire("a") || b.acquire("a") {
		t.Fatal("the third place of one key was given")
	}
	if !b.acquire("b") {
		t.Fatal("another key was refused")
	}
	b.release("a")
	if !b.acquire("a") {
		t.Fatal("a place given back is not free again")
	}
	b.release("a")
	b.release("a")
	b.release("b")
	if len(b.n) != 0 {
		t.Errorf("keys kept at zero: %v", b.n)
	}
	if off := newInFlightBy(0); !off.acquire("a") || !off.acquire("a") || !off.acquire("a") {
		t.Error("a bound of 0 bounds")
	}
}

// TestBodiesArrivingHeldWithinTheLowestShare: requests whose body is still arriving
// (anonymous ones) hold at most the lowest share of the bound; once a body has
// been read whole, its place among them is free again.
func TestBodiesArrivingHeldWithinTheLowestShare(t *testing.T) {
	s := &Server{admission: newAdmission(16, nil)}
	var tickets []*ticket
	var first io.Reader
	for i := range 9 {
		if !s.admission.admit(PriorityCode) {
			t.Fatalf("code request %d not admitted", i)
		}
		tk := &ticket{s: s, p: PriorityCode, held: true}
		r := httptest.NewRequest("POST", "/sign-in/code", strings.NewReader("code=1"))
		ok := tk.startReading(r)
		if want := i < 8; ok != want {
			t.Fatalf("request %d reading its body: %v, want %v (8 of 16 at most)", i, ok, want)
		}
		if ok {
			tickets = append(tickets, tk)
		}
		if i == 0 {
			first = r.Body
		}
	}
	// the first one's body is read whole: its place among those reading is free
	if _, err := io.ReadAll(first); err != nil {
		t.Fatal(err)
	}
	if got := s.admission.reading.Load(); got != 7 {
		t.Errorf("%d requests reading, want 7", got)
	}
	if tk := (&ticket{s: s, p: PriorityCode, held: true}); !tk.startReading(httptest.NewRequest("POST", "/sign-in", strings.NewReader("v=1"))) {
		t.Error("the place given back is not free")
	} else {
		tk.held = false
		tickets = append(tickets, tk)
	}
	for _, tk := range tickets {
		tk.release()
	}
	if r, f := s.admission.reading.Load(), s.admission.inFlight.Load(); r != 0 || f != 1 {
		t.Errorf("after release: %d reading, %d in flight; want 0 and 1 (the one refused a reading place)", r, f)
	}
}
