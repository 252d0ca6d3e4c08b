package worker

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Metrics are the fulfilment KPIs the workers record.
type Metrics struct {
	// Propagation observes, per applied WMS shipment milestone, the time
	// from the milestone at the warehouse or carrier to its recording in
	// Transload (the shipment status propagation KPI).
	Propagation prometheus.Observer
	// WMSEvents counts applied WMS events by outcome (applied, rejected,
	// duplicate).
	WMSEvents *prometheus.CounterVec
}

// NewMetrics creates the worker metrics and registers them, together with
// gauges of the side-effect queue read from store, with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer, store fulfillment.Store) (*Metrics, error) {
	prop := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "transload_fulfillment_shipment_status_propagation_seconds",
		Help:    "Time from a WMS shipment milestone to its recording in Transload.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900},
	})
	evs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "transload_fulfillment_wms_events_total",
		Help: "WMS shipment events seen, by outcome.",
	}, []string{"outcome"})
	effects := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "transload_fulfillment_side_effects",
		Help: "Outbound side effects (inventory commit, order progress) by state.",
	}, []string{"state"})
	m := &Metrics{Propagation: prop, WMSEvents: evs}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{prop, evs, effectCollector{store: store, desc: effects}}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// effectCollector reads the side-effect queue's depth on scrape.
type effectCollector struct {
	store fulfillment.Store
	desc  *prometheus.GaugeVec
}

// Describe describes the queue gauges.
func (c effectCollector) Describe(ch chan<- *prometheus.Desc) { c.desc.Describe(ch) }

// Collect reads the queue depth per state.
func (c effectCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, state := range []fulfillment.EffectState{fulfillment.EffectPending, fulfillment.EffectFailed} {
		n, err := c.store.CountEffects(ctx, state)
		if err != nil {
			continue
		}
		c.desc.WithLabelValues(string(state)).Set(float64(n))
	}
	c.desc.Collect(ch)
}
