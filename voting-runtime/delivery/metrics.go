package delivery

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values: a fixed set, never anything about a voter.
const (
	resultSent    = "sent"
	resultFailed  = "failed"
	resultExpired = "expired"

	outcomeAccepted  = "accepted"
	outcomeTemporary = "temporary_error"
	outcomePermanent = "permanent_error"

	rejectFull    = "queue_full"
	rejectExpired = "expired"
	rejectClosed  = "closed"
)

// deliveryBuckets are the buckets of scrutin_code_delivery_seconds, up to 300 s.
var deliveryBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 240, 300}

type queueMetrics struct {
	results  map[string]prometheus.Counter
	attempts map[string]prometheus.Counter
	rejects  map[string]prometheus.Counter
	seconds  prometheus.Observer
	depth    prometheus.Gauge
}

func (m queueMetrics) result(r string)   { m.results[r].Inc() }
func (m queueMetrics) attempt(o string)  { m.attempts[o].Inc() }
func (m queueMetrics) rejected(r string) { m.rejects[r].Inc() }

func newQueueMetrics(reg prometheus.Registerer, channel string) queueMetrics {
	sent := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scrutin_codes_sent_total",
		Help: "Codes and credentials whose delivery finished, by channel and result (sent, failed, expired).",
	}, []string{"channel", "result"}))
	seconds := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scrutin_code_delivery_seconds",
		Help:    "Time from queueing a code or letter to its acceptance by the mail server or SMS gateway.",
		Buckets: deliveryBuckets,
	}, []string{"channel"}))
	depth := register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scrutin_delivery_queue_depth",
		Help: "Messages queued in the election's outbox, from every replica (waiting, being sent or waiting to be retried).",
	}, []string{"channel"}))
	attempts := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scrutin_delivery_attempts_total",
		Help: "Delivery attempts, by channel and outcome (accepted, temporary_error, permanent_error).",
	}, []string{"channel", "outcome"}))
	rejected := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scrutin_delivery_rejected_total",
		Help: "Messages refused at enqueue time, by channel and reason (queue_full, expired, closed).",
	}, []string{"channel", "reason"}))

	m := queueMetrics{
		results:  map[string]prometheus.Counter{},
		attempts: map[string]prometheus.Counter{},
		rejects:  map[string]prometheus.Counter{},
		seconds:  seconds.WithLabelValues(channel),
		depth:    depth.WithLabelValues(channel),
	}
	// every series exists from the start, at 0, so that rates and alerts work
	for _, r := range []string{resultSent, resultFailed, resultExpired} {
		m.results[r] = sent.WithLabelValues(channel, r)
	}
	for _, o := range []string{outcomeAccepted, outcomeTemporary, outcomePermanent} {
		m.attempts[o] = attempts.WithLabelValues(channel, o)
	}
	for _, r := range []string{rejectFull, rejectExpired, rejectClosed} {
		m.rejects[r] = rejected.WithLabelValues(channel, r)
	}
	return m
}

// register registers c on reg, or returns the collector registered before under
// the same name (the other channel's queue), so that both queues share it.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("delivery: registering metrics: %v", err))
}
