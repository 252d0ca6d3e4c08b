// Package metrics exports the order service's business metrics to
// Prometheus: order acceptance latency and the ERP queue's depth and age.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/order/internal/order"
)

// Metrics implements order.Metrics.
type Metrics struct {
	acceptance prometheus.Histogram
	depth      prometheus.Gauge
	oldest     prometheus.Gauge
	lastSync   prometheus.Gauge
}

var _ order.Metrics = (*Metrics)(nil)

// New creates the metrics and registers them with reg:
//
//	transload_order_acceptance_seconds          histogram of accepted CreateOrder latency
//	transload_order_erp_queue_depth             orders and cancellations waiting for the ERP
//	transload_order_erp_queue_oldest_age_seconds age of the oldest waiting entry (0 when empty)
//	transload_order_customer_sync_timestamp_seconds time of the last successful customer snapshot sync
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
	}
	for _, c := range []prometheus.Collector{m.acceptance, m.depth, m.oldest, m.lastSync} {
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
