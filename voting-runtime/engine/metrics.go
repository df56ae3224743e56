package engine

import "github.com/prometheus/client_golang/prometheus"

// metrics of the engine. No label ever holds a voter id, a contact or a secret.
type metrics struct {
	signIns    *prometheus.CounterVec
	cast_      prometheus.Counter
	rejections *prometheus.CounterVec
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
	}
	if reg != nil {
		reg.MustRegister(m.signIns, m.cast_, m.rejections)
	}
	return m
}

func (m *metrics) signIn(result string)   { m.signIns.WithLabelValues(result).Inc() }
func (m *metrics) cast()                  { m.cast_.Inc() }
func (m *metrics) rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }
