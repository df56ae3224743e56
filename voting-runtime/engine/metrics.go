package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scrutin.dev/scrutin/voting-runtime/ratelimit"
)

// metrics of the engine. No label ever holds a voter id, a contact or a secret.
type metrics struct {
	signIns    *prometheus.CounterVec
	cast_      prometheus.Counter
	rejections *prometheus.CounterVec
	limited    prometheus.Counter
	unlocks    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scrutin_signins_total", Help: "Sign-in steps by result.",
		}, []string{"result"}),
		cast_: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scrutin_ballots_cast_total", Help: "Ballots cast and committed.",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scrutin_ballot_rejections_total", Help: "Ballots refused, by reason.",
		}, []string{"reason"}),
		unlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scrutin_voter_unlocks_total", Help: "Voters' sign-in lockouts ended by the hotline (control API).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.signIns, m.cast_, m.rejections, m.unlocks)
	}
	m.limited = ratelimit.Counter(reg, "voter")
	// every series exists from the start, at 0, so that an alert on a rate sees
	// the first event, not only the second
	for _, r := range signInResults {
		m.signIns.WithLabelValues(r)
	}
	for _, r := range rejectionReasons {
		m.rejections.WithLabelValues(r)
	}
	return m
}

// The values of scrutin_signins_total{result} and
// scrutin_ballot_rejections_total{reason}.
var (
	signInResults    = []string{"address-limited", "code-sent", "delivery-busy", "expired", "locked-out", "no-pending", "resend-too-soon", "signed-in", "too-many-attempts", "unknown-voter", "wrong-code"}
	rejectionReasons = []string{"already-voted", "closed", "invalid-ballot", "not-open"}
)

func (m *metrics) signIn(result string)   { m.signIns.WithLabelValues(result).Inc() }
func (m *metrics) cast()                  { m.cast_.Inc() }
func (m *metrics) rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }

// sessionsCollector exports scrutin_active_sessions: sessions seen within the idle
// timeout, counted in the store at each scrape (true across all replicas).
type sessionsCollector struct {
	en   *Engine
	desc *prometheus.Desc
}

func (c *sessionsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *sessionsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.en.st.ActiveSessions(ctx, c.en.now().Add(-c.en.authn().SessionIdleTimeout.Duration))
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}
