package grpcapi

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// metrics are the gateway's business metrics:
//
//	transload_gateway_availability_answers_total{confidence}   CheckAvailability answers by source
//	transload_gateway_availability_degraded_total{dependency}  answers that fell back to the snapshot
type metrics struct {
	answers  *prometheus.CounterVec
	degraded *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_gateway_availability_answers_total",
			Help: "CheckAvailability answers by confidence (LIVE, CACHED, LAST_PUBLISHED_SNAPSHOT).",
		}, []string{"confidence"}),
		degraded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_gateway_availability_degraded_total",
			Help: "CheckAvailability answers served from the last published snapshot, by unavailable dependency.",
		}, []string{"dependency"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []*prometheus.CounterVec{m.answers, m.degraded} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) answered(resp *storefrontv1.CheckAvailabilityResponse) {
	name := resp.GetConfidence().String()
	m.answers.WithLabelValues(name[len("CONFIDENCE_"):]).Inc()
	for _, d := range resp.GetDegradedDependencies() {
		m.degraded.WithLabelValues(d).Inc()
	}
}
