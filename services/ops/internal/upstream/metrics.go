package upstream

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/reflect/protoreflect"

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
	// The one channel_orders figure order's counters do not give as one
	// series: GetKpis' pending_erp over its default window.
	pendingERPDesc = prometheus.NewDesc("transload_ops_orders_pending_erp", pendingERPHelp, []string{"channel"}, nil)
)

// pendingERPHelp names DefaultWindow, the window the gauge covers.
const pendingERPHelp = "Orders accepted at placement in the last 15 minutes minus those the ERP confirmed or rejected in them, not below zero, by channel."

// domains and severities are always exported and listed, at 0 when none
// is open, so a dashboard or alert never sees a series vanish and a
// console shows every row.
var (
	domains    = knownValues[opsv1.Exception_Domain]()
	severities = knownValues[opsv1.Exception_Severity]()
)

// knownValues returns the values of enum E but UNSPECIFIED (0) in the
// contract's order, so a value added to the contract is counted without a
// change here.
func knownValues[E interface {
	~int32
	protoreflect.Enum
}]() []E {
	var zero E
	vs := zero.Descriptor().Values()
	out := make([]E, 0, vs.Len())
	for i := range vs.Len() {
		if n := vs.Get(i).Number(); n != 0 {
			out = append(out, E(n))
		}
	}
	return out
}

type collector struct{ u *Upstream }

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{openExceptionsDesc, openBySeverityDesc, deadLettersDesc,
		deadLetterDepthDesc, lastReconciliationDesc, scrapeUpDesc, pendingERPDesc} {
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
	now := u.now()
	for _, c := range channelOrders(u.store, now.Add(-DefaultWindow), now) {
		ch <- prometheus.MustNewConstMetric(pendingERPDesc, prometheus.GaugeValue, float64(c.GetPendingErp()), c.GetChannel())
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
