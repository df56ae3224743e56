// Package ratelimit bounds how often one key (a voter, a client address) may do
// something, with a token bucket per key: a flood from one key empties its own
// bucket and slows no other. Both the server (by address) and the engine (by voter)
// use it.
package ratelimit

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// SweepEvery is how often buckets full again are forgotten. A full bucket is what a
// new key gets, so forgetting one changes nothing but the memory held: that grows
// with the keys seen in the last refill time plus a minute, not with every key
// ever seen.
const SweepEvery = time.Minute

// Keyed is a token bucket per key. A nil *Keyed allows everything.
type Keyed struct {
	limit   rate.Limit
	burst   int
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	swept   time.Time
}

// New returns buckets of burst tokens refilled at limit tokens a second; nil (no
// limit) when either is not positive.
func New(limit rate.Limit, burst int) *Keyed {
	if limit <= 0 || burst <= 0 {
		return nil
	}
	return &Keyed{limit: limit, burst: burst, buckets: map[string]*rate.Limiter{}}
}

// Allow takes a token from key's bucket at now (the caller's clock, so that tests
// can move it). Without one, it says how long until there is one.
func (k *Keyed) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if k == nil {
		return true, 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.swept) >= SweepEvery {
		k.sweep(now)
	}
	b, found := k.buckets[key]
	if !found {
		b = rate.NewLimiter(k.limit, k.burst)
		k.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.TokensAt(now)
	return false, time.Duration(missing / float64(k.limit) * float64(time.Second))
}

// sweep forgets the buckets full again at now.
func (k *Keyed) sweep(now time.Time) {
	for key, b := range k.buckets {
		if b.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
	k.swept = now
}

// Counter is scrutin_rate_limited_total{by}: requests refused by a Keyed, by what
// it is keyed on ("address", "voter"; never the key itself). The server and the
// engine share one registry: whichever asks first registers it, the other reuses it.
func Counter(reg prometheus.Registerer, by string) prometheus.Counter {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scrutin_rate_limited_total", Help: "Sign-in requests refused because one client address or one voter asked too often, by which.",
	}, []string{"by"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				panic(err)
			}
			c = already.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	return c.WithLabelValues(by)
}
