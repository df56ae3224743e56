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
