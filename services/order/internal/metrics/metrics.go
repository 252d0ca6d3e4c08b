// Package metrics exports the order service's business metrics to
// Prometheus: order acceptance latency, orders accepted and rejected per
// channel, the ERP queue's depth and age, and how long shipment milestones
// take from the WMS to the order.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/order/internal/order"
)

// Metrics implements order.Metrics.
type Metrics struct {
	acceptance  prometheus.Histogram
	depth       prometheus.Gauge
	oldest      prometheus.Gauge
	lastSync    prometheus.Gauge
	accepted    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	propagation prometheus.Histogram
}

var _ order.Metrics = (*Metrics)(nil)

// New creates the metrics and registers them with reg:
//
//	transload_order_acceptance_seconds          histogram of accepted CreateOrder latency
//	transload_order_erp_queue_depth             orders and cancellations waiting for the ERP
//	transload_order_erp_queue_oldest_age_seconds age of the oldest waiting entry (0 when empty)
//	transload_order_customer_sync_timestamp_seconds time of the last successful customer snapshot sync
//	transload_order_orders_accepted_total{channel,stage} orders accepted at placement and confirmed by the ERP
//	transload_order_orders_rejected_total{channel,stage} orders refused at placement and rejected by the ERP
//	transload_order_shipment_propagation_seconds histogram of WMS shipment event → order updated
//
// stage is "placement" or "erp" (order.DecisionStage).
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		acceptance: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "transload_order_acceptance_seconds",
			Help:    "Latency of CreateOrder calls that accepted a new order.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "transload_order_erp_queue_depth",
			Help: "Entries (submissions and cancellations) waiting in the durable ERP queue.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "transload_order_erp_queue_oldest_age_seconds",
			Help: "Age of the oldest ERP queue entry; 0 when the queue is empty.",
		}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "transload_order_customer_sync_timestamp_seconds",
			Help: "Unix time of the last successful sync of the ERP customer snapshots.",
		}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_order_orders_accepted_total",
			Help: "Orders accepted, by channel and stage: placement (accepted pending ERP) or erp (confirmed by the ERP).",
		}, []string{"channel", "stage"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_order_orders_rejected_total",
			Help: "Orders rejected, by channel and stage: placement (refused for a business reason) or erp (rejected by the ERP).",
		}, []string{"channel", "stage"}),
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "transload_order_shipment_propagation_seconds",
			Help:    "Time from a WMS shipment event (the report's occur time) until the order shows it.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}),
	}
	for _, c := range []prometheus.Collector{m.acceptance, m.depth, m.oldest, m.lastSync, m.accepted, m.rejected, m.propagation} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ObserveAcceptance implements order.Metrics.
func (m *Metrics) ObserveAcceptance(d time.Duration) { m.acceptance.Observe(d.Seconds()) }

// SetERPQueue implements order.Metrics.
func (m *Metrics) SetERPQueue(depth int, oldest time.Duration) {
	m.depth.Set(float64(depth))
	m.oldest.Set(oldest.Seconds())
}

// ObserveCustomerSync implements order.Metrics.
func (m *Metrics) ObserveCustomerSync(at time.Time) { m.lastSync.Set(float64(at.Unix())) }

// CountDecision implements order.Metrics.
func (m *Metrics) CountDecision(channel string, stage order.DecisionStage, accepted bool) {
	c := m.rejected
	if accepted {
		c = m.accepted
	}
	c.WithLabelValues(channel, string(stage)).Inc()
}

// ObserveShipmentPropagation implements order.Metrics.
func (m *Metrics) ObserveShipmentPropagation(d time.Duration) { m.propagation.Observe(d.Seconds()) }
