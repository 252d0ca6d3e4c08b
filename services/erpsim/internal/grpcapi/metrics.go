package grpcapi

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

// Metrics are the simulated ERP's business counters, next to the
// platform's per-RPC gRPC metrics.
type Metrics struct {
	submissions  *prometheus.CounterVec
	journalLines *prometheus.CounterVec
}

// NewMetrics registers erpsim's business metrics on reg:
//
//	erpsim_sales_order_submissions_total{result="accepted|rejected|duplicate"}
//	erpsim_journal_lines_total{outcome="posted|rejected|duplicate"}
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpsim_sales_order_submissions_total",
			Help: "SubmitSalesOrder calls that reached the simulated ERP, by result (a duplicate repeats an earlier outcome).",
		}, []string{"result"}),
		journalLines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "erpsim_journal_lines_total",
			Help: "Journal lines processed by new PostJournalBatch calls, by outcome.",
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.submissions, m.journalLines} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return nil, fmt.Errorf("grpcapi: register metrics: %w", err)
		}
	}
	for _, r := range []string{"accepted", "rejected", "duplicate"} {
		m.submissions.WithLabelValues(r)
	}
	for _, o := range []string{"posted", "rejected", "duplicate"} {
		m.journalLines.WithLabelValues(o)
	}
	return m, nil
}

func (m *Metrics) submitted(o erp.SalesOrder, dup bool) {
	if m == nil {
		return
	}
	switch {
	case dup:
		m.submissions.WithLabelValues("duplicate").Inc()
	case o.State == erp.OrderRejected:
		m.submissions.WithLabelValues("rejected").Inc()
	default:
		m.submissions.WithLabelValues("accepted").Inc()
	}
}

func (m *Metrics) posted(b erp.JournalBatch, dup bool) {
	if m == nil || dup {
		return
	}
	p, r, d := b.Counts()
	m.journalLines.WithLabelValues("posted").Add(float64(p))
	m.journalLines.WithLabelValues("rejected").Add(float64(r))
	m.journalLines.WithLabelValues("duplicate").Add(float64(d))
}
