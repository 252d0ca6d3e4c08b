// Package kpi exports the inventory business KPIs that are read from the
// database at scrape time: oversold units, open reservations, stock event
// gaps and the latest reconciliation's variance.
package kpi

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/inventory/internal/inventory"
)

// ScrapeTimeout bounds the database reads of one scrape.
const ScrapeTimeout = 2 * time.Second

var (
	oversoldDesc = prometheus.NewDesc("transload_inventory_oversold_units",
		"Reserved quantity not backed by on-hand (stock lost under reservations), summed over all stock levels.", nil, nil)
	bufferedDesc = prometheus.NewDesc("transload_inventory_buffered_stock_events",
		"Stock events waiting for a missing predecessor sequence.", nil, nil)
	overdueDesc = prometheus.NewDesc("transload_inventory_stock_event_gaps_overdue",
		"Buffered stock events waiting longer than the gap timeout: open sequence gaps operators must resolve (reconcile).", nil, nil)
	openDesc = prometheus.NewDesc("transload_inventory_open_reservations",
		"Open reservations by state.", []string{"state"}, nil)
	varianceDesc = prometheus.NewDesc("transload_inventory_reconciliation_absolute_variance_units",
		"Sum of |variance| of the latest successful reconciliation run (inventory variance KPI).", nil, nil)
	varianceCountDesc = prometheus.NewDesc("transload_inventory_reconciliation_variances",
		"SKU × warehouse positions out of tolerance in the latest successful reconciliation run: its variances minus those skipped because the snapshot was behind (the count behind the absolute variance units).", nil, nil)
)

type collector struct {
	svc        *inventory.Service
	gapTimeout time.Duration
	logger     *slog.Logger
}

// Register registers the KPI collector with reg. gapTimeout is how long a
// buffered stock event may wait before its gap counts as overdue.
func Register(reg prometheus.Registerer, svc *inventory.Service, gapTimeout time.Duration, logger *slog.Logger) error {
	return reg.Register(&collector{svc: svc, gapTimeout: gapTimeout, logger: logger})
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{oversoldDesc, bufferedDesc, overdueDesc, openDesc, varianceDesc, varianceCountDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed read skips the KPIs
// for this scrape (logged) rather than failing /metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	st, err := c.svc.Stats(ctx, c.gapTimeout)
	if err != nil {
		c.logger.WarnContext(ctx, "inventory: read KPIs", slog.Any("error", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(oversoldDesc, prometheus.GaugeValue, float64(st.OversoldUnits))
	ch <- prometheus.MustNewConstMetric(bufferedDesc, prometheus.GaugeValue, float64(st.BufferedEvents))
	ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(st.OverdueBufferedEvents))
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(st.HeldReservations), "HELD")
	ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(st.ConfirmedReservations), "CONFIRMED")
	ch <- prometheus.MustNewConstMetric(varianceDesc, prometheus.GaugeValue, float64(st.LastReconciliation.AbsoluteVarianceTotal))
	ch <- prometheus.MustNewConstMetric(varianceCountDesc, prometheus.GaugeValue,
		float64(st.LastReconciliation.OutOfTolerance()))
}
