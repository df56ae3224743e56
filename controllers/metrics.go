package controllers

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	scrutinv1 "scrutin.dev/scrutin/api/v1alpha1"
)

// phaseCollector exports scrutin_elections{phase}: Elections by phase, counted from
// the cache at each scrape (never a counter that drifts from the truth).
type phaseCollector struct {
	reader client.Reader
	desc   *prometheus.Desc
}

var allPhases = []scrutinv1.Phase{
	scrutinv1.PhasePending, scrutinv1.PhaseProvisioning, scrutinv1.PhaseScheduled, scrutinv1.PhaseOpen,
	scrutinv1.PhaseClosed, scrutinv1.PhaseTallied, scrutinv1.PhaseFailed,
}

// RegisterMetrics adds Scrutin's own metrics to the controller-runtime registry,
// beside its reconcile counts and latencies.
func RegisterMetrics(reader client.Reader) error {
	c := &phaseCollector{
		reader: reader,
		desc:   prometheus.NewDesc("scrutin_elections", "Elections by phase.", []string{"phase"}, nil),
	}
	d := &deliveryCollector{
		reader: reader,
		messages: prometheus.NewDesc("scrutin_election_delivery_messages",
			"An election's codes and credential letters by channel and state (queued, sent, failed, delivered, bounced), from its status.delivery.",
			[]string{"election_namespace", "election_name", "channel", "state"}, nil),
		oldest: prometheus.NewDesc("scrutin_election_delivery_oldest_queued_seconds",
			"Age of the oldest message of an election still waiting to be sent; absent when none waits.",
			[]string{"election_namespace", "election_name"}, nil),
		opens: prometheus.NewDesc("scrutin_election_opens_timestamp_seconds",
			"When an election not yet open opens (Unix time), for the alerts on what must be done before.",
			[]string{"election_namespace", "election_name"}, nil),
	}
	rt := &runtimeCollector{
		reader: reader,
		held: prometheus.NewDesc("scrutin_election_runtime_upgrade_held",
			"1 for an election whose voting pods keep their pod template while the manager renders another: reason UpgradeHeldWhileOpen (open vote) or KeptAfterClose (for good); absent otherwise.",
			[]string{"election_namespace", "election_name", "reason"}, nil),
	}
	for _, col := range []prometheus.Collector{c, d, rt, appliesTotal, reconcileErrorsTotal} {
		err := metrics.Registry.Register(col)
		var already prometheus.AlreadyRegisteredError
		if err != nil && !errors.As(err, &already) {
			return err
		}
	}
	return nil
}

// deliveryCollector exports each Election's delivery counts, the age of its oldest
// waiting message and, before it opens, its opening time, read from the cache at
// each scrape.
type deliveryCollector struct {
	reader                  client.Reader
	messages, oldest, opens *prometheus.Desc
}

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.messages
	ch <- c.oldest
	ch <- c.opens
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list scrutinv1.ElectionList
	if err := c.reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.messages, err)
		return
	}
	now := time.Now()
	for _, e := range list.Items {
		if !phaseAtLeast(e.Status.Phase, scrutinv1.PhaseOpen) && e.Status.Phase != scrutinv1.PhaseFailed && !e.Spec.Schedule.OpensAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.opens, prometheus.GaugeValue,
				float64(e.Spec.Schedule.OpensAt.Unix()), e.Namespace, e.Name)
		}
		d := e.Status.Delivery
		if d == nil {
			continue
		}
		for _, cd := range d.Channels {
			for _, s := range []struct {
				state string
				n     int64
			}{{"queued", cd.Queued}, {"sent", cd.Sent}, {"failed", cd.Failed}, {"delivered", cd.Delivered}, {"bounced", cd.Bounced}} {
				ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(s.n), e.Namespace, e.Name, cd.Channel, s.state)
			}
		}
		if queued, _ := deliveryTotals(d); queued > 0 && d.OldestQueuedAt != nil {
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue,
				max(0, now.Sub(d.OldestQueuedAt.Time).Seconds()), e.Namespace, e.Name)
		}
	}
}

func (c *phaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *phaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list scrutinv1.ElectionList
	if err := c.reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	counts := map[scrutinv1.Phase]float64{}
	for _, e := range list.Items {
		p := e.Status.Phase
		if p == "" {
			p = scrutinv1.PhasePending
		}
		counts[p]++
	}
	for _, p := range allPhases {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, counts[p], string(p))
	}
}

// appliesTotal counts the server-side applies the controller sent, and those it
// skipped because the live object was already as desired, by kind.
var appliesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "scrutin_applies_total",
	Help: "Server-side applies of the objects of elections' namespaces, by kind and result: sent, or skipped because the live object was already as desired.",
}, []string{"kind", "result"})

// reconcileErrorsTotal counts the Election reconciles that met an error. They are
// retried by the controller itself (retryOnError), so controller-runtime's own
// error count does not see them.
var reconcileErrorsTotal = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "scrutin_election_reconcile_errors_total",
	Help: "Election reconciles that met an error; each is retried at the earlier of its next scheduled step and an exponential backoff.",
})

// runtimeCollector exports the elections whose runtime upgrade is held, from their
// status.runtime and RuntimeUpToDate condition, read from the cache at each scrape.
type runtimeCollector struct {
	reader client.Reader
	held   *prometheus.Desc
}

func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.held }

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list scrutinv1.ElectionList
	if err := c.reader.List(ctx, &list); err != nil {
		ch <- prometheus.NewInvalidMetric(c.held, err)
		return
	}
	for _, e := range list.Items {
		if e.Status.Runtime == nil || e.Status.Runtime.PendingTemplateHash == "" {
			continue
		}
		reason := ""
		if cond := meta.FindStatusCondition(e.Status.Conditions, scrutinv1.ConditionRuntimeUpToDate); cond != nil {
			reason = cond.Reason
		}
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, 1, e.Namespace, e.Name, reason)
	}
}
