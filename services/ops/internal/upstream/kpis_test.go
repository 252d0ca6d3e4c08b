package upstream

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
)

// mesh is a set of service registries served over HTTP like the admin
// endpoints, with the metrics the services register.
type mesh struct {
	acceptance  prometheus.Histogram
	accepted    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	erpDepth    prometheus.Gauge
	erpOldest   prometheus.Gauge
	breaker     *prometheus.GaugeVec
	outboxOrder prometheus.Gauge
	outboxAge   prometheus.Gauge
	quotes      *prometheus.CounterVec
	propagation prometheus.Histogram
	variance    prometheus.Gauge
	targets     map[string]string
}

func newMesh(t *testing.T) *mesh {
	t.Helper()
	m := &mesh{
		acceptance: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricAcceptance, Help: "h",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		accepted:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricOrdersAccepted, Help: "h"}, []string{"channel", "stage"}),
		rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricOrdersRejected, Help: "h"}, []string{"channel", "stage"}),
		erpDepth:    prometheus.NewGauge(prometheus.GaugeOpts{Name: metricERPDepth, Help: "h"}),
		erpOldest:   prometheus.NewGauge(prometheus.GaugeOpts{Name: metricERPOldest, Help: "h"}),
		breaker:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricBreaker, Help: "h"}, []string{"target"}),
		outboxOrder: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricOutboxPending, Help: "h"}),
		outboxAge:   prometheus.NewGauge(prometheus.GaugeOpts{Name: metricOutboxAge, Help: "h"}),
		quotes:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricQuotes, Help: "h"}, []string{"result"}),
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricFulfillmentPropagation, Help: "h",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5}}),
		variance: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricVariance, Help: "h"}),
		targets:  map[string]string{},
	}
	serve := func(name string, cs ...prometheus.Collector) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(cs...)
		srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		t.Cleanup(srv.Close)
		m.targets[name] = srv.URL + "/metrics"
	}
	serve("order", m.acceptance, m.accepted, m.rejected, m.erpDepth, m.erpOldest, m.breaker, m.outboxOrder, m.outboxAge)
	serve("catalog-pricing", m.quotes)
	serve("fulfillment", m.propagation)
	serve("inventory", m.variance)
	return m
}

func TestGetKpisFromScrapes(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *Config) { c.Targets = m.targets; c.Registry = reg })
	f.desk.open = map[opsv1.Exception_Domain]int64{opsv1.Exception_DOMAIN_ERP: 2, opsv1.Exception_DOMAIN_FULFILLMENT: 1}
	f.desk.pending = map[string]int64{"fulfillment.order_confirmed": 3}
	f.inv.runs = []*inventoryv1.Reconciliation{
		{Name: "reconciliations/r-2", State: inventoryv1.Reconciliation_STATE_FAILED},
		{Name: "reconciliations/r-1", State: inventoryv1.Reconciliation_STATE_SUCCEEDED, AbsoluteVarianceTotal: 17, EndTime: tspb(t0.Add(-time.Hour))},
	}
	ctx := context.Background()

	// Before ops started: history the windows must not count.
	for range 50 {
		m.acceptance.Observe(3)
	}
	m.accepted.WithLabelValues("web", "placement").Add(50)
	m.quotes.WithLabelValues("ok").Add(100)
	m.breaker.WithLabelValues("erp").Set(0)
	f.u.round(ctx)

	f.clock.Advance(time.Minute)
	for range 98 {
		m.acceptance.Observe(0.02)
	}
	m.acceptance.Observe(0.7)
	m.acceptance.Observe(0.7)
	m.accepted.WithLabelValues("web", "placement").Add(60)
	m.accepted.WithLabelValues("app", "placement").Add(40) // new series: counts whole
	m.accepted.WithLabelValues("web", "erp").Add(70)       // confirmations are not new orders
	m.rejected.WithLabelValues("web", "placement").Add(4)
	m.rejected.WithLabelValues("web", "erp").Add(1)
	m.quotes.WithLabelValues("ok").Add(20)
	m.quotes.WithLabelValues("ERROR_REASON_DEPENDENCY_UNAVAILABLE").Add(5)
	m.erpDepth.Set(6)
	m.erpOldest.Set(125)
	m.breaker.WithLabelValues("erp").Set(2)
	m.outboxOrder.Set(9)
	m.outboxAge.Set(1.5)
	for range 10 {
		m.propagation.Observe(0.3)
	}
	m.variance.Set(99) // the latest run read from inventory wins
	f.u.round(ctx)

	got, err := f.u.GetKpis(operatorCtx(), &opsv1.GetKpisRequest{})
	if err != nil {
		t.Fatalf("GetKpis: %v", err)
	}
	now := t0.Add(time.Minute)
	want := &opsv1.Kpis{
		Window:      durationpb.New(15 * time.Minute),
		ComputeTime: tspb(now),
		OrderAcceptanceLatency: &opsv1.LatencySummary{
			Count: 100,
			// rank 50 of 100, 98 observations in (0.01, 0.025].
			P50: seconds(0.01 + 0.015*50/98),
			// rank 99: 98 in (0.01, 0.025], 2 in (0.5, 1] → 0.5 + 0.5×(1/2).
			P99: durationpb.New(750 * time.Millisecond),
		},
		OrdersAccepted:           100,
		OrdersRejected:           5,
		ErpQueueDepth:            6,
		OldestPendingErpOrderAge: durationpb.New(125 * time.Second),
		OutboxLags:               []*opsv1.OutboxLag{{Service: "order", PendingEvents: 9, OldestPendingAge: durationpb.New(1500 * time.Millisecond)}},
		DeadLetterDepth:          3,
		InventoryVarianceUnits:   17,
		LastReconciliationTime:   tspb(t0.Add(-time.Hour)),
		Breakers: []*opsv1.BreakerStatus{{
			Service: "order", Dependency: "erp", State: opsv1.BreakerState_BREAKER_STATE_OPEN, ChangeTime: tspb(now),
		}},
		ShipmentPropagationLatency: &opsv1.LatencySummary{Count: 10, P50: seconds(0.25 + 0.25*5/10), P99: seconds(0.25 + 0.25*9.9/10)},
		FailedPricingCalls:         5,
		PricingCalls:               25,
		OpenExceptions:             3,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("KPIs (-want +got):\n%s", diff)
	}

	// Twenty quiet minutes later the default window has nothing new.
	f.clock.Advance(20 * time.Minute)
	f.u.round(ctx)
	got, err = f.u.GetKpis(ctx, &opsv1.GetKpisRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetOrdersAccepted() != 0 || got.GetOrderAcceptanceLatency().GetCount() != 0 || got.GetOrderAcceptanceLatency().GetP99() != nil {
		t.Errorf("quiet window: accepted %d, latency %v", got.GetOrdersAccepted(), got.GetOrderAcceptanceLatency())
	}
	// An hour's window still covers the burst, but not what predates ops.
	got, err = f.u.GetKpis(ctx, &opsv1.GetKpisRequest{Window: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetOrdersAccepted() != 100 || got.GetPricingCalls() != 25 {
		t.Errorf("hour window: accepted %d, pricing calls %d; want 100, 25", got.GetOrdersAccepted(), got.GetPricingCalls())
	}

	wantMetrics := `
# HELP transload_ops_dead_letter_depth Dead letters waiting for replay (state PENDING), all consumers.
# TYPE transload_ops_dead_letter_depth gauge
transload_ops_dead_letter_depth 3
# HELP transload_ops_dead_letters_pending Dead letters waiting for replay (state PENDING), by consumer.
# TYPE transload_ops_dead_letters_pending gauge
transload_ops_dead_letters_pending{consumer="fulfillment.order_confirmed"} 3
# HELP transload_ops_last_reconciliation_timestamp_seconds Unix time the latest successful stock reconciliation finished.
# TYPE transload_ops_last_reconciliation_timestamp_seconds gauge
transload_ops_last_reconciliation_timestamp_seconds 1.7957772e+09
# HELP transload_ops_open_exceptions Exceptions in state OPEN or ACKNOWLEDGED, by owning domain.
# TYPE transload_ops_open_exceptions gauge
transload_ops_open_exceptions{domain="commerce"} 0
transload_ops_open_exceptions{domain="erp"} 2
transload_ops_open_exceptions{domain="finance"} 0
transload_ops_open_exceptions{domain="fulfillment"} 1
# HELP transload_ops_scrape_up 1 when the ops service's last scrape of a service's metrics succeeded, else 0.
# TYPE transload_ops_scrape_up gauge
transload_ops_scrape_up{service="catalog-pricing"} 1
transload_ops_scrape_up{service="fulfillment"} 1
transload_ops_scrape_up{service="inventory"} 1
transload_ops_scrape_up{service="order"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantMetrics)); err != nil {
		t.Error(err)
	}
}

func TestGetKpisPrefersOrderPropagation(t *testing.T) {
	t.Parallel()
	orderProp := prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricOrderPropagation, Help: "h", Buckets: []float64{1, 2}})
	fulfillmentProp := prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricFulfillmentPropagation, Help: "h", Buckets: []float64{1, 2}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(orderProp, fulfillmentProp)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	f := newFixture(t, func(c *Config) { c.Targets = map[string]string{"order": srv.URL} })
	f.u.round(context.Background())
	f.clock.Advance(time.Minute)
	orderProp.Observe(1.5)
	fulfillmentProp.Observe(0.5)
	fulfillmentProp.Observe(0.5)
	f.u.round(context.Background())
	got, err := f.u.GetKpis(context.Background(), &opsv1.GetKpisRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetShipmentPropagationLatency().GetCount() != 1 {
		t.Errorf("propagation = %v, want order's single observation", got.GetShipmentPropagationLatency())
	}
}

func TestGetKpisBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		window *durationpb.Duration
	}{
		{"too short", durationpb.New(59 * time.Second)},
		{"too long", durationpb.New(7*24*time.Hour + time.Second)},
		{"negative", durationpb.New(-time.Minute)},
		{"malformed", &durationpb.Duration{Seconds: 60, Nanos: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			_, err := f.u.GetKpis(context.Background(), &opsv1.GetKpisRequest{Window: tc.window})
			wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
		})
	}
}

func TestGetKpisDeskDown(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *Config) { c.Registry = reg })
	f.desk.err = errors.New("database is locked")
	_, err := f.u.GetKpis(context.Background(), &opsv1.GetKpisRequest{})
	wantStatus(t, err, codes.Internal, commonv1.ErrorReason_ERROR_REASON_INTERNAL)
	if strings.Contains(err.Error(), "locked") {
		t.Errorf("cause leaked: %v", err)
	}
	// The metrics leave the desk's figures out instead of failing.
	if n, err := testutil.GatherAndCount(reg, "transload_ops_open_exceptions"); err != nil || n != 0 {
		t.Errorf("open exceptions series = %d, %v; want 0", n, err)
	}
}

func TestSeverityMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	desk := &fakeDesk{bySeverity: map[opsv1.Exception_Severity]int64{opsv1.Exception_SEVERITY_HIGH: 4}}
	newFixture(t, func(c *Config) { c.Registry = reg; c.Desk = severityDesk{desk} })
	want := `
# HELP transload_ops_open_exceptions_by_severity Exceptions in state OPEN or ACKNOWLEDGED, by severity.
# TYPE transload_ops_open_exceptions_by_severity gauge
transload_ops_open_exceptions_by_severity{severity="high"} 4
transload_ops_open_exceptions_by_severity{severity="low"} 0
transload_ops_open_exceptions_by_severity{severity="medium"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "transload_ops_open_exceptions_by_severity"); err != nil {
		t.Error(err)
	}
}

func TestScrapeDownMarksTarget(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(nil)
	url := srv.URL + "/metrics"
	srv.Close()
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *Config) { c.Targets = map[string]string{"order": url}; c.Registry = reg })
	f.u.round(context.Background())
	want := `
# HELP transload_ops_scrape_up 1 when the ops service's last scrape of a service's metrics succeeded, else 0.
# TYPE transload_ops_scrape_up gauge
transload_ops_scrape_up{service="order"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "transload_ops_scrape_up"); err != nil {
		t.Error(err)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	f := newFixture(t, func(c *Config) { c.Targets = m.targets; c.Interval = 10 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.u.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.u.mu.Lock()
		up := len(f.u.up) == len(m.targets)
		f.u.mu.Unlock()
		if up && f.u.store.Has(metricERPDepth) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not scrape every target within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	ok := func(c *Config) {}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no inventory", func(c *Config) { c.Inventory = nil }, "Inventory"},
		{"no order", func(c *Config) { c.Order = nil }, "Order"},
		{"no desk", func(c *Config) { c.Desk = nil }, "Desk"},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, "negative"},
		{"relative target", func(c *Config) { c.Targets = map[string]string{"order": "/metrics"} }, "order"},
		{"ftp target", func(c *Config) { c.Targets = map[string]string{"order": "ftp://h/metrics"} }, "order"},
		{"unnamed target", func(c *Config) { c.Targets = map[string]string{"": "http://h/metrics"} }, "target"},
		{"registered twice", func(c *Config) {
			reg := prometheus.NewRegistry()
			c.Registry = reg
			if _, err := New(Config{Inventory: &fakeInventory{}, Order: &fakeOrder{}, Desk: &fakeDesk{}, Registry: reg}); err != nil {
				t.Fatal(err)
			}
		}, "register"},
		{"valid", ok, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Inventory: &fakeInventory{}, Order: &fakeOrder{}, Desk: &fakeDesk{}}
			tc.mod(&cfg)
			u, err := New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want == "" && u.interval != DefaultInterval:
				t.Errorf("interval = %v, want default", u.interval)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}

func TestGetKpisWithoutDecisionCounters(t *testing.T) {
	t.Parallel()
	acceptance := prometheus.NewHistogram(prometheus.HistogramOpts{Name: metricAcceptance, Help: "h", Buckets: []float64{1}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(acceptance)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	f := newFixture(t, func(c *Config) { c.Targets = map[string]string{"order": srv.URL} })
	f.u.round(context.Background())
	f.clock.Advance(time.Minute)
	for range 3 {
		acceptance.Observe(0.1)
	}
	f.u.round(context.Background())
	got, err := f.u.GetKpis(context.Background(), &opsv1.GetKpisRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetOrdersAccepted() != 3 || got.GetOrdersRejected() != 0 {
		t.Errorf("accepted %d, rejected %d; want 3 from the acceptance histogram, 0", got.GetOrdersAccepted(), got.GetOrdersRejected())
	}
}
