// Package metrics exports the simulator's business counters to Prometheus.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/wmssim/internal/wms"
)

// Metrics implements wms.Observer with Prometheus counters.
type Metrics struct {
	created    *prometheus.CounterVec
	milestones *prometheus.CounterVec
	receipts   *prometheus.CounterVec
}

var _ wms.Observer = (*Metrics)(nil)

// New registers the counters on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wmssim_shipment_requests_created_total",
			Help: "New shipment requests (replays excluded) by warehouse and outcome state.",
		}, []string{"warehouse", "state"}),
		milestones: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wmssim_shipment_events_total",
			Help: "Shipment events appended to the feed by warehouse and milestone.",
		}, []string{"warehouse", "state"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wmssim_return_receipts_total",
			Help: "Simulated return receipts by warehouse.",
		}, []string{"warehouse"}),
	}
	for _, c := range []prometheus.Collector{m.created, m.milestones, m.receipts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// warehouseLabel bounds label cardinality: unknown codes share one label.
func warehouseLabel(code string) string {
	for _, w := range wms.Warehouses {
		if w.Code == code {
			return code
		}
	}
	return "unknown"
}

// ShipmentRequestCreated implements wms.Observer.
func (m *Metrics) ShipmentRequestCreated(warehouse string, state wms.State) {
	m.created.WithLabelValues(warehouseLabel(warehouse), string(state)).Inc()
}

// MilestoneReached implements wms.Observer.
func (m *Metrics) MilestoneReached(warehouse string, state wms.State) {
	m.milestones.WithLabelValues(warehouseLabel(warehouse), string(state)).Inc()
}

// ReturnReceived implements wms.Observer.
func (m *Metrics) ReturnReceived(warehouse string) {
	m.receipts.WithLabelValues(warehouseLabel(warehouse)).Inc()
}
