package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Run starts voter first+i at arrivals[i] after now (an open loop: arrivals do not
// wait for the runtime, as voters do not) and returns once every journey ended.
// At most maxVoters journeys run at once (0: no bound); an arrival finding none
// free waits, and Run returns how many had to.
func (t *Target) Run(ctx context.Context, arrivals Arrivals, first, maxVoters int, stats *Stats) (late int) {
	var (
		wg   sync.WaitGroup
		slot chan struct{}
	)
	if maxVoters > 0 {
		slot = make(chan struct{}, maxVoters)
	}
	start := time.Now()
	for i, at := range arrivals {
		if d := time.Until(start.Add(at)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return late
			}
		}
		if slot != nil {
			select {
			case slot <- struct{}{}:
			default:
				late++
				select {
				case slot <- struct{}{}:
				case <-ctx.Done():
					wg.Wait()
					return late
				}
			}
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			t.journey(ctx, n, stats)
			if slot != nil {
				<-slot
			}
		}(first + i)
	}
	wg.Wait()
	return late
}

// Parallel calls do(0), …, do(n-1) from clients goroutines (a closed loop: each
// client takes the next voter when done with the last), and returns when all are
// done.
func Parallel(clients, n int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				do(i)
			}
		}()
	}
	wg.Wait()
}
