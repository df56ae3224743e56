package load

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Stats are what a run observed. Safe for concurrent use.
type Stats struct {
	mu        sync.Mutex
	steps     map[string][]time.Duration
	journeys  []time.Duration
	receipts  []string
	failures  map[string]int
	statuses  map[int]int
	turned    map[string]int // wait pages and rate limits, by step
	waitTimes []time.Duration
	requests  int
	castTries int // voters who tried to cast
	castsOK1  int // of them, those whose first attempt succeeded
	started   time.Time
	ended     time.Time
}

// NewStats starts counting now.
func NewStats() *Stats {
	return &Stats{steps: map[string][]time.Duration{}, failures: map[string]int{}, statuses: map[int]int{},
		turned: map[string]int{}, started: time.Now()}
}

func (s *Stats) latency(step string, d time.Duration) {
	s.mu.Lock()
	s.steps[step] = append(s.steps[step], d)
	s.mu.Unlock()
}

func (s *Stats) request(status int) {
	s.mu.Lock()
	s.requests++
	s.statuses[status]++
	s.mu.Unlock()
}

func (s *Stats) turnedAway(step string, status int, d time.Duration) {
	s.mu.Lock()
	s.turned[fmt.Sprintf("%s %d", step, status)]++
	if status == 503 {
		s.waitTimes = append(s.waitTimes, d)
	}
	s.mu.Unlock()
}

// castFirst records how a voter's first attempt at casting went.
func (s *Stats) castFirst(ok bool) {
	s.mu.Lock()
	s.castTries++
	if ok {
		s.castsOK1++
	}
	s.mu.Unlock()
}

func (s *Stats) done(receipt string, d time.Duration) {
	s.mu.Lock()
	s.receipts = append(s.receipts, receipt)
	s.journeys = append(s.journeys, d)
	s.ended = time.Now()
	s.mu.Unlock()
}

func (s *Stats) failed(err error) {
	reason := err.Error()
	var se *stepError
	if errors.As(err, &se) {
		switch {
		case se.status != 0 && errors.Is(se.err, errGaveUp):
			reason = fmt.Sprintf("%s: gave up after HTTP %d", se.step, se.status)
		case se.status != 0 && se.reason != "":
			reason = fmt.Sprintf("%s: HTTP %d %s", se.step, se.status, se.reason)
		case se.status != 0:
			reason = fmt.Sprintf("%s: HTTP %d", se.step, se.status)
		default:
			reason = se.step + ": " + shorten(se.err)
		}
	}
	s.mu.Lock()
	s.failures[reason]++
	s.ended = time.Now()
	s.mu.Unlock()
}

// shorten keeps an error's kind, not its addresses and ports, so that failures
// group.
func shorten(err error) string {
	msg := err.Error()
	for _, kind := range []string{"connection refused", "connection reset", "too many open files", "deadline exceeded", "timeout", "EOF", "no code reached"} {
		if strings.Contains(msg, kind) {
			return kind
		}
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:] // the cause, without the addresses before it
	}
	return msg
}

// Summary is a distribution's p50, p99 and max.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

func (s Summary) String() string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s / %s", ms(s.P50), ms(s.P99))
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Summary{N: len(ds), P50: at(0.50), P99: at(0.99), Max: ds[len(ds)-1]}
}

// Result is a run's figures.
type Result struct {
	Journeys int
	// Rate of completed journeys per second, from the first arrival to the last
	// journey's end.
	Rate     float64
	Steps    map[string]Summary
	Journey  Summary
	Wait     Summary // the wait page's own latency
	Requests int
	// TurnedAway counts wait pages (503) and rate limits (429) by step.
	TurnedAway map[string]int
	// Status5xx counts 5xx answers other than the wait page's 503.
	Status5xx int
	Statuses  map[int]int
	Failures  map[string]int
	Receipts  []string
	// CastFirstTry is the share of voters holding a session whose cast succeeded
	// at the first attempt.
	CastFirstTry float64
	// Elapsed from the start to the last journey's end.
	Elapsed time.Duration
}

// WaitShare is the share of requests answered by the wait page.
func (r Result) WaitShare() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Statuses[503]) / float64(r.Requests)
}

// Failed counts the journeys that did not end with a receipt.
func (r Result) Failed() int {
	n := 0
	for _, c := range r.Failures {
		n += c
	}
	return n
}

// Result summarizes the run so far.
func (s *Stats) Result() Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Result{Journeys: len(s.receipts), Steps: map[string]Summary{}, Journey: summarize(s.journeys),
		Wait: summarize(s.waitTimes), Requests: s.requests, TurnedAway: map[string]int{}, Statuses: map[int]int{},
		Failures: map[string]int{}, Receipts: slices.Clone(s.receipts)}
	for k, v := range s.steps {
		r.Steps[k] = summarize(v)
	}
	for k, v := range s.turned {
		r.TurnedAway[k] = v
	}
	for k, v := range s.statuses {
		r.Statuses[k] = v
		if k >= 500 && k != 503 {
			r.Status5xx += v
		}
	}
	for k, v := range s.failures {
		r.Failures[k] = v
	}
	if s.ended.After(s.started) {
		r.Elapsed = s.ended.Sub(s.started)
		r.Rate = float64(r.Journeys) / r.Elapsed.Seconds()
	}
	if s.castTries > 0 {
		r.CastFirstTry = float64(s.castsOK1) / float64(s.castTries)
	}
	return r
}

// FailureList formats failure counts, most frequent first.
func (r Result) FailureList() string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range r.Failures {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
	var b strings.Builder
	for _, e := range l {
		fmt.Fprintf(&b, "%d × %s; ", e.v, e.k)
	}
	return strings.TrimSuffix(b.String(), "; ")
}
