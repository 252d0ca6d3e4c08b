package upstream

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// collectTimeout bounds the desk reads of one scrape of the ops metrics.
const collectTimeout = 2 * time.Second

// The ops metrics: the KPIs no service exports. The rest of the KPIs are
// the services' own metrics, which dashboards and alerts read directly.
var (
	openExceptionsDesc = prometheus.NewDesc("transload_ops_open_exceptions",
		"Exceptions in state OPEN or ACKNOWLEDGED, by owning domain.", []string{"domain"}, nil)
	openBySeverityDesc = prometheus.NewDesc("transload_ops_open_exceptions_by_severity",
		"Exceptions in state OPEN or ACKNOWLEDGED, by severity.", []string{"severity"}, nil)
	deadLettersDesc = prometheus.NewDesc("transload_ops_dead_letters_pending",
		"Dead letters waiting for replay (state PENDING), by consumer.", []string{"consumer"}, nil)
	deadLetterDepthDesc = prometheus.NewDesc("transload_ops_dead_letter_depth",
		"Dead letters waiting for replay (state PENDING), all consumers.", nil, nil)
	lastReconciliationDesc = prometheus.NewDesc("transload_ops_last_reconciliation_timestamp_seconds",
		"Unix time the latest successful stock reconciliation finished.", nil, nil)
	scrapeUpDesc = prometheus.NewDesc("transload_ops_scrape_up",
		"1 when the ops service's last scrape of a service's metrics succeeded, else 0.", []string{"service"}, nil)
)

// domains are always exported, at 0 when none is open, so a dashboard or
// alert never sees the series vanish.
var domains = []opsv1.Exception_Domain{
	opsv1.Exception_DOMAIN_COMMERCE, opsv1.Exception_DOMAIN_ERP,
	opsv1.Exception_DOMAIN_FULFILLMENT, opsv1.Exception_DOMAIN_FINANCE,
}

var severities = []opsv1.Exception_Severity{
	opsv1.Exception_SEVERITY_LOW, opsv1.Exception_SEVERITY_MEDIUM,
	opsv1.Exception_SEVERITY_HIGH,
}

type collector struct{ u *Upstream }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{openExceptionsDesc, openBySeverityDesc, deadLettersDesc,
		deadLetterDepthDesc, lastReconciliationDesc, scrapeUpDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A failed desk read leaves its
// metrics out of this scrape (logged) rather than failing /metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	u := c.u
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	if open, err := u.desk.OpenExceptions(ctx); err != nil {
		u.logger.WarnContext(ctx, "ops: metrics: count open exceptions", slog.Any("error", err))
	} else {
		for _, d := range domains {
			ch <- prometheus.MustNewConstMetric(openExceptionsDesc, prometheus.GaugeValue, float64(open[d]),
				labelValue(d.String(), "DOMAIN_"))
		}
	}
	if ss, ok := u.desk.(SeverityStats); ok {
		if open, err := ss.OpenExceptionsBySeverity(ctx); err != nil {
			u.logger.WarnContext(ctx, "ops: metrics: count open exceptions by severity", slog.Any("error", err))
		} else {
			for _, s := range severities {
				ch <- prometheus.MustNewConstMetric(openBySeverityDesc, prometheus.GaugeValue, float64(open[s]),
					labelValue(s.String(), "SEVERITY_"))
			}
		}
	}
	if pending, err := u.desk.PendingDeadLetters(ctx); err != nil {
		u.logger.WarnContext(ctx, "ops: metrics: count dead letters", slog.Any("error", err))
	} else {
		for consumer, n := range pending {
			ch <- prometheus.MustNewConstMetric(deadLettersDesc, prometheus.GaugeValue, float64(n), consumer)
		}
		ch <- prometheus.MustNewConstMetric(deadLetterDepthDesc, prometheus.GaugeValue, float64(sum(pending)))
	}
	u.mu.Lock()
	last := u.lastReco
	up := make(map[string]bool, len(u.up))
	for k, v := range u.up {
		up[k] = v
	}
	u.mu.Unlock()
	if last.GetEndTime() != nil {
		ch <- prometheus.MustNewConstMetric(lastReconciliationDesc, prometheus.GaugeValue,
			float64(last.GetEndTime().AsTime().UnixNano())/1e9)
	}
	for _, t := range u.targets {
		v := 0.0
		if up[t.name] {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(scrapeUpDesc, prometheus.GaugeValue, v, t.name)
	}
}
