package ratelimit

import (
	"sync"
	"time"
)

// Budget is a refundable allowance per key: burst units at once, one more back
// every every. A caller takes a unit before an action whose cost it learns only
// afterwards, and refunds it when the action turned out free (a right code, nothing
// to check): only what is charged counts. A nil *Budget allows everything.
//
// It is held in memory, per process: with n replicas behind a balancer a key gets
// at most n times the budget, and a restart gives it back in full.
type Budget struct {
	every time.Duration
	burst float64
	mu    sync.Mutex
	spent map[string]*spent
	swept time.Time
}

type spent struct {
	units float64 // spent, not yet back, as of at
	at    time.Time
}

// NewBudget returns a Budget of burst units, one back every every; nil (no limit)
// when either is not positive.
func NewBudget(burst int, every time.Duration) *Budget {
	if burst <= 0 || every <= 0 {
		return nil
	}
	return &Budget{every: every, burst: float64(burst), spent: map[string]*spent{}}
}

// settle is s's spending at now, the units come back since s.at deducted.
func (b *Budget) settle(s *spent, now time.Time) {
	if now.After(s.at) {
		s.units = max(0, s.units-float64(now.Sub(s.at))/float64(b.every))
		s.at = now
	}
}

// Take spends one of key's units at now; without one, it says how long until
// there is one.
func (b *Budget) Take(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.swept) >= SweepEvery {
		for k, s := range b.spent {
			if b.settle(s, now); s.units == 0 {
				delete(b.spent, k)
			}
		}
		b.swept = now
	}
	s := b.spent[key]
	if s == nil {
		s = &spent{at: now}
		b.spent[key] = s
	}
	b.settle(s, now)
	if s.units+1 > b.burst {
		return false, time.Duration((s.units + 1 - b.burst) * float64(b.every))
	}
	s.units++
	return true, 0
}

// Refund gives back a unit Take spent for key.
func (b *Budget) Refund(key string, now time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.spent[key]; s != nil {
		b.settle(s, now)
		s.units = max(0, s.units-1)
	}
}

// Left says whether key has a unit left at now, without spending it; without one,
// how long until there is one. With Charge, it suits an action that is free when
// it goes well and must not wait on the others in flight (many right codes from
// one address at once): those in flight may overspend the budget by their number.
func (b *Budget) Left(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if b == nil {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.spent[key]
	if s == nil {
		return true, 0
	}
	b.settle(s, now)
	if s.units+1 > b.burst {
		return false, time.Duration((s.units + 1 - b.burst) * float64(b.every))
	}
	return true, 0
}

// Charge spends one of key's units at now, past the burst if need be: the cost of
// an action already done.
func (b *Budget) Charge(key string, now time.Time) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.spent[key]
	if s == nil {
		s = &spent{at: now}
		b.spent[key] = s
	}
	b.settle(s, now)
	s.units++
}
