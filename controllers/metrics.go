package controllers

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	err := metrics.Registry.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		return nil
	}
	return err
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
