package server

import "sync"

// inFlightBy counts the requests in flight by key (a client address, a session)
// and bounds them: a slow client holds at most limit places, however many
// connections it opens. Keys are forgotten when their count falls to zero, so
// the map holds no more keys than there are requests in flight.
type inFlightBy struct {
	limit int
	mu    sync.Mutex
	n     map[string]int
}

func newInFlightBy(limit int) *inFlightBy {
	return &inFlightBy{limit: limit, n: map[string]int{}}
}

// acquire takes a place for key, or says no when key holds limit already; a
// limit of 0 or less bounds nothing. Each place taken is given back by release.
func (b *inFlightBy) acquire(key string) bool {
	if b == nil || b.limit <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n[key] >= b.limit {
		return false
	}
	b.n[key]++
	return true
}

func (b *inFlightBy) release(key string) {
	if b == nil || b.limit <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n[key] <= 1 {
		delete(b.n, key)
		return
	}
	b.n[key]--
}
