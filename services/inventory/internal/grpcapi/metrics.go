package grpcapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/inventory/internal/inventory"
)

// metrics are the inventory business KPIs exported on /metrics.
type metrics struct {
	reservations *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, svc *inventory.Service) (*metrics, error) {
	m := &metrics{reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "transload_inventory_reservations_total",
		Help: "ReserveStock calls by outcome: created, replayed (same request id), or the ErrorInfo reason of a refusal (e.g. ERROR_REASON_INSUFFICIENT_STOCK).",
	}, []string{"outcome"})}
	if reg == nil {
		return m, nil
	}
	loaded := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "transload_inventory_initial_load_done",
		Help: "1 once warehouses and stock are loaded from the ERP (readiness), else 0.",
	}, func() float64 {
		if svc != nil && svc.Loaded() {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.reservations, loaded} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) reserved(created bool, err error) {
	switch {
	case err != nil:
		reason := apierr.ReasonOf(err)
		if reason == "" {
			reason = "UNKNOWN"
		}
		m.reservations.WithLabelValues(reason).Inc()
	case created:
		m.reservations.WithLabelValues("created").Inc()
	default:
		m.reservations.WithLabelValues("replayed").Inc()
	}
}
