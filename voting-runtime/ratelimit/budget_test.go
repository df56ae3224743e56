package ratelimit

import (
	"testing"
	"time"
)

// TestBudgetRefundsAndRefills: burst units at once, refunds give back what turned
// out free, one unit back every period, keys apart.
func TestBudgetRefundsAndRefills(t *testing.T) {
	b := NewBudget(3, 2*time.Minute)
	now := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range 3 {
		if ok, _ := b.Take("a", now); !ok {
			t.Fatalf("take %d refused", i+1)
		}
	}
	ok, wait := b.Take("a", now)
	if ok || wait != 2*time.Minute {
		t.Fatalf("fourth take = %v, %s; want refused, 2m", ok, wait)
	}
	if ok, _ := b.Take("b", now); !ok {
		t.Fatal("another key refused")
	}
	b.Refund("a", now)
	if ok, _ := b.Take("a", now); !ok {
		t.Fatal("a refunded unit cannot be taken")
	}
	if ok, wait := b.Take("a", now.Add(time.Minute)); ok || wait != time.Minute {
		t.Fatalf("a minute later = %v, %s; want refused, 1m", ok, wait)
	}
	if ok, _ := b.Take("a", now.Add(2*time.Minute)); !ok {
		t.Fatal("two minutes later: no unit back")
	}
	var none *Budget
	if ok, _ := none.Take("a", now); !ok {
		t.Fatal("a nil Budget refuses")
	}
	none.Refund("a", now)
}

// TestBudgetLeftSpendsNothing: asking whether a unit is left spends none, however
// many ask at once (many right codes from one address at noon); only Charge
// spends, past the burst if need be, and then Left says how long to wait.
func TestBudgetLeftSpendsNothing(t *testing.T) {
	b := NewBudget(3, time.Minute)
	now := time.Unix(1_000_000, 0)
	for i := range 100 {
		if ok, _ := b.Left("a", now); !ok {
			t.Fatalf("ask %d: no unit left, though none was charged", i+1)
		}
	}
	for range 4 { // one more than the burst: charged all the same
		b.Charge("a", now)
	}
	ok, wait := b.Left("a", now)
	if ok || wait != 2*time.Minute {
		t.Fatalf("after 4 charges of a burst of 3: left %v, wait %s; want none left for 2 minutes", ok, wait)
	}
	if ok, _ := b.Left("b", now); !ok {
		t.Fatal("another key is charged for a's spending")
	}
	if ok, _ := b.Left("a", now.Add(2*time.Minute)); !ok {
		t.Fatal("no unit back after 2 minutes")
	}
}
