package deliver

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// metrics are the webhook KPIs:
//   - transload_notify_delivery_latency_seconds: source event time (the
//     WMS event time for shipments) to the receiver's 2xx, the propagation
//     KPI (p50/p99 from the histogram);
//   - transload_notify_pending_deliveries: deliveries queued and not yet
//     acknowledged nor given up, per subscription, read at scrape time;
//   - transload_notify_attempts_total{outcome}: delivered, retry,
//     failed, breaker_open;
//   - transload_notify_failed_attempts_total{subscription}: failures per
//     subscription.
type metrics struct {
	latency  prometheus.Histogram
	attempts *prometheus.CounterVec
	failures *prometheus.CounterVec
}

type pendingCollector struct {
	store *sqlstore.Store
	desc  *prometheus.Desc
}

func (c pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.PendingCounts(ctx)
	if err != nil {
		return
	}
	for sub, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), sub)
	}
}

func newMetrics(reg prometheus.Registerer, store *sqlstore.Store) (*metrics, error) {
	m := &metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "transload_notify_delivery_latency_seconds",
			Help:    "Time from the source event (WMS event time for shipments) to the receiver's 2xx answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .15, .2, .25, .35, .5, .75, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_notify_attempts_total",
			Help: "Webhook delivery attempts by outcome (delivered, retry, failed, breaker_open).",
		}, []string{"outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "transload_notify_failed_attempts_total",
			Help: "Failed webhook delivery attempts per subscription.",
		}, []string{"subscription"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.latency, m.attempts, m.failures, pendingCollector{store: store,
		desc: prometheus.NewDesc("transload_notify_pending_deliveries", "Webhook deliveries not yet acknowledged nor given up, per subscription.",
			[]string{"subscription"}, nil)}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observe(sub string, dl *sqlstore.Delivery, o sqlstore.Outcome) {
	switch {
	case o.Delivered:
		m.attempts.WithLabelValues("delivered").Inc()
		end := o.Attempt.Time.Add(o.Attempt.Latency)
		m.latency.Observe(max(end.Sub(dl.EventTime), 0).Seconds())
	case o.GiveUp:
		m.attempts.WithLabelValues("failed").Inc()
		m.failures.WithLabelValues(sub).Inc()
	default:
		m.attempts.WithLabelValues("retry").Inc()
		m.failures.WithLabelValues(sub).Inc()
	}
}
