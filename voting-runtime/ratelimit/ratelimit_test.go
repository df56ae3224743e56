package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
)

var t0 = time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)

// TestBurstThenRefill: a key gets its burst at once, then one token every period;
// another key has its own bucket all along.
func TestBurstThenRefill(t *testing.T) {
	k := New(rate.Every(3*time.Second), 10)
	for i := range 10 {
		if ok, _ := k.Allow("V-1", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := k.Allow("V-1", t0)
	if ok || wait != 3*time.Second {
		t.Fatalf("past the burst: allowed %v, retry after %s; want refused, 3s", ok, wait)
	}
	if ok, _ := k.Allow("V-2", t0); !ok {
		t.Fatal("another key was refused while the first was flooding")
	}
	if ok, wait := k.Allow("V-1", t0.Add(time.Second)); ok || wait != 2*time.Second {
		t.Fatalf("1 s later: allowed %v, retry after %s; want refused, 2s", ok, wait)
	}
	if ok, _ := k.Allow("V-1", t0.Add(3*time.Second)); !ok {
		t.Fatal("one token 3 s later was refused")
	}
	if ok, _ := k.Allow("V-1", t0.Add(3*time.Second)); ok {
		t.Fatal("a second token 3 s later was allowed")
	}
}

func TestNilAllowsEverything(t *testing.T) {
	for _, k := range []*Keyed{New(0, 10), New(rate.Every(time.Second), 0)} {
		if k != nil {
			t.Fatalf("New with a zero limit or burst: %v, want nil (no limit)", k)
		}
		for range 1000 {
			if ok, _ := k.Allow("x", t0); !ok {
				t.Fatal("a nil Keyed refused")
			}
		}
	}
}

// TestSweepBoundsMemory: 10,000 keys seen once are forgotten once their buckets are
// full again; a key still short of tokens is kept, with its count.
func TestSweepBoundsMemory(t *testing.T) {
	k := New(rate.Every(3*time.Second), 10) // full again 30 s after the last token
	for i := range 10_000 {
		k.Allow(fmt.Sprint("visitor-", i), t0)
	}
	for range 10 {
		k.Allow("flooder", t0.Add(59*time.Second))
	}
	if n := len(k.buckets); n != 10_001 {
		t.Fatalf("%d buckets before the sweep, want 10001", n)
	}
	// A minute on (the first sweep ran at t0): the visitors' buckets are full and
	// forgotten; the flooder's is not, and keeps its count.
	if ok, wait := k.Allow("flooder", t0.Add(SweepEvery)); ok || wait != 2*time.Second {
		t.Fatalf("the flooder 1 s after its burst: allowed %v, retry after %s; want refused, 2s", ok, wait)
	}
	if n := len(k.buckets); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1 (the flooder's)", n)
	}
	if ok, _ := k.Allow("flooder", t0.Add(SweepEvery+2*time.Second)); !ok {
		t.Fatal("the flooder's bucket never refilled")
	}
}

// TestCounterShared: the server and the engine register the same counter with one
// registry; each counts under its own label.
func TestCounterShared(t *testing.T) {
	reg := prometheus.NewRegistry()
	voter, address := Counter(reg, "voter"), Counter(reg, "address")
	voter.Inc()
	address.Add(2)
	if got := testutil.ToFloat64(voter); got != 1 {
		t.Errorf("voter: %v", got)
	}
	n, err := testutil.GatherAndCount(reg, "scrutin_rate_limited_total")
	if err != nil || n != 2 {
		t.Fatalf("%d series, %v; want 2", n, err)
	}
}
