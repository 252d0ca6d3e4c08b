package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/testharness/wait"
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
	f.desk.pending = map[string]int64{"inventory-order-cancelled": 1, "fulfillment-order-confirmed": 3}
	f.inv.runs = []*inventoryv1.Reconciliation{
		{Name: "reconciliations/r-2", State: inventoryv1.Reconciliation_STATE_FAILED, VarianceCount: 50},
		{
			Name: "reconciliations/r-1", State: inventoryv1.Reconciliation_STATE_SUCCEEDED, AbsoluteVarianceTotal: 17,
			VarianceCount: 6, SkippedCount: 2, EndTime: tspb(t0.Add(-time.Hour)),
		},
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
		DeadLetterDepth:          4,
		InventoryVarianceUnits:   17,
		LastReconciliationTime:   tspb(t0.Add(-time.Hour)),
		Breakers: []*opsv1.BreakerStatus{{
			Service: "order", Dependency: "erp", State: opsv1.BreakerState_BREAKER_STATE_OPEN, ChangeTime: tspb(now),
		}},
		ShipmentPropagationLatency: &opsv1.LatencySummary{Count: 10, P50: seconds(0.25 + 0.25*5/10), P99: seconds(0.25 + 0.25*9.9/10)},
		FailedPricingCalls:         5,
		PricingCalls:               25,
		OpenExceptions:             3,
		// web: 60 accepted, 70 confirmed + 1 rejected by the ERP → none
		// pending; app: its first 40 orders, none decided yet.
		ChannelOrders: []*opsv1.ChannelOrders{
			{Channel: "app", Accepted: 40, PendingErp: 40},
			{Channel: "web", Accepted: 60, Rejected: 5},
		},
		// The run's 6 variances but the 2 skipped (snapshot behind).
		InventoryVariancePositions: 4,
		DeadLetterDepths: []*opsv1.DeadLetterDepth{
			{Consumer: "fulfillment-order-confirmed", Pending: 3},
			{Consumer: "inventory-order-cancelled", Pending: 1},
		},
		DomainExceptions: []*opsv1.DomainExceptions{
			{Domain: opsv1.Exception_DOMAIN_COMMERCE},
			{Domain: opsv1.Exception_DOMAIN_ERP, Open: 2},
			{Domain: opsv1.Exception_DOMAIN_FULFILLMENT, Open: 1},
			{Domain: opsv1.Exception_DOMAIN_FINANCE},
		},
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
transload_ops_dead_letter_depth 4
# HELP transload_ops_dead_letters_pending Dead letters waiting for replay (state PENDING), by consumer.
# TYPE transload_ops_dead_letters_pending gauge
transload_ops_dead_letters_pending{consumer="fulfillment-order-confirmed"} 3
transload_ops_dead_letters_pending{consumer="inventory-order-cancelled"} 1
# HELP transload_ops_last_reconciliation_timestamp_seconds Unix time the latest successful stock reconciliation finished.
# TYPE transload_ops_last_reconciliation_timestamp_seconds gauge
transload_ops_last_reconciliation_timestamp_seconds 1.7957772e+09
# HELP transload_ops_open_exceptions Exceptions in state OPEN or ACKNOWLEDGED, by owning domain.
# TYPE transload_ops_open_exceptions gauge
transload_ops_open_exceptions{domain="commerce"} 0
transload_ops_open_exceptions{domain="erp"} 2
transload_ops_open_exceptions{domain="finance"} 0
transload_ops_open_exceptions{domain="fulfillment"} 1
# HELP transload_ops_orders_pending_erp Orders accepted at placement in the last 15 minutes minus those the ERP confirmed or rejected in them, not below zero, by channel.
# TYPE transload_ops_orders_pending_erp gauge
transload_ops_orders_pending_erp{channel="app"} 0
transload_ops_orders_pending_erp{channel="web"} 0
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

// TestScrapeSendsAdminToken: with ScrapeToken set every scrape carries it
// as a bearer token, so the targets' admin listeners (ADMIN_TOKEN) admit
// ops; a target that gets no token is marked down.
func TestScrapeSendsAdminToken(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		metrics.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		token  string
		wantUp bool
	}{{"s3cret", true}, {"", false}} {
		f := newFixture(t, func(c *Config) { c.Targets = map[string]string{"order": srv.URL}; c.ScrapeToken = tc.token })
		f.u.round(context.Background())
		f.u.mu.Lock()
		up := f.u.up["order"]
		f.u.mu.Unlock()
		if up != tc.wantUp {
			t.Errorf("token %q: target up = %v, want %v", tc.token, up, tc.wantUp)
		}
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
	wait.Eventually(t, 5*time.Second, "Run scraped every target", func() error {
		f.u.mu.Lock()
		up := len(f.u.up)
		f.u.mu.Unlock()
		return wait.Check(up == len(m.targets) && f.u.store.Has(metricERPDepth),
			"%d of %d targets up, ERP depth stored %t", up, len(m.targets), f.u.store.Has(metricERPDepth))
	})
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

// orderReplica is one order process's decision counters behind its own
// /metrics endpoint.
type orderReplica struct {
	accepted, rejected *prometheus.CounterVec
}

func newOrderReplica(t *testing.T) (*orderReplica, string) {
	t.Helper()
	r := &orderReplica{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricOrdersAccepted, Help: "h"}, []string{"channel", "stage"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricOrdersRejected, Help: "h"}, []string{"channel", "stage"}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.accepted, r.rejected)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return r, srv.URL + "/metrics"
}

func TestGetKpisChannelOrders(t *testing.T) {
	t.Parallel()
	a, aURL := newOrderReplica(t)
	b, bURL := newOrderReplica(t)
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *Config) { c.Targets = map[string]string{"order": aURL, "order-2": bURL}; c.Registry = reg })
	ctx := context.Background()
	type orders = []*opsv1.ChannelOrders
	// The steps run in order on one history; each advances the clock,
	// counts decisions, scrapes and reads the 15-minute and hour windows.
	steps := []struct {
		name            string
		advance         time.Duration
		act             func()
		want15m, want1h orders
	}{
		{
			name:    "history before ops started does not count",
			act:     func() { a.accepted.WithLabelValues("web", stagePlacement).Add(50) },
			want15m: orders{{Channel: "web"}},
			want1h:  orders{{Channel: "web"}},
		},
		{
			name:    "decisions in the window, summed over replicas",
			advance: time.Minute,
			act: func() {
				a.accepted.WithLabelValues("web", stagePlacement).Add(6)
				b.accepted.WithLabelValues("web", stagePlacement).Add(4)
				a.accepted.WithLabelValues("web", stageERP).Add(4)
				b.rejected.WithLabelValues("web", stageERP).Add(2)
				a.rejected.WithLabelValues("web", stagePlacement).Add(1)
				// app: the ERP confirms more than the window accepted.
				a.accepted.WithLabelValues("app", stagePlacement).Add(3)
				b.accepted.WithLabelValues("app", stageERP).Add(5)
				// pos: refusals only.
				b.rejected.WithLabelValues("pos", stagePlacement).Add(2)
			},
			// web pending: 10 accepted − 4 confirmed − 2 rejected by the ERP.
			want15m: orders{{Channel: "app", Accepted: 3}, {Channel: "pos", Rejected: 2}, {Channel: "web", Accepted: 10, PendingErp: 4, Rejected: 3}},
			want1h:  orders{{Channel: "app", Accepted: 3}, {Channel: "pos", Rejected: 2}, {Channel: "web", Accepted: 10, PendingErp: 4, Rejected: 3}},
		},
		{
			name:    "a quiet window lists every channel at zero",
			advance: 20 * time.Minute,
			act:     func() {},
			want15m: orders{{Channel: "app"}, {Channel: "pos"}, {Channel: "web"}},
			want1h:  orders{{Channel: "app", Accepted: 3}, {Channel: "pos", Rejected: 2}, {Channel: "web", Accepted: 10, PendingErp: 4, Rejected: 3}},
		},
		{
			name:    "the ERP deciding orders accepted before the window is not below zero",
			advance: time.Minute,
			act:     func() { b.accepted.WithLabelValues("web", stageERP).Add(6) },
			want15m: orders{{Channel: "app"}, {Channel: "pos"}, {Channel: "web"}},
			// 10 accepted − 10 confirmed − 2 rejected by the ERP.
			want1h: orders{{Channel: "app", Accepted: 3}, {Channel: "pos", Rejected: 2}, {Channel: "web", Accepted: 10, Rejected: 3}},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f.clock.Advance(st.advance)
			st.act()
			f.u.round(ctx)
			for _, w := range []struct {
				window time.Duration
				want   orders
			}{{DefaultWindow, st.want15m}, {time.Hour, st.want1h}} {
				got, err := f.u.GetKpis(ctx, &opsv1.GetKpisRequest{Window: durationpb.New(w.window)})
				if err != nil {
					t.Fatalf("GetKpis: %v", err)
				}
				if diff := cmp.Diff(w.want, got.GetChannelOrders(), protocmp.Transform()); diff != "" {
					t.Errorf("%v window: channel orders (-want +got):\n%s", w.window, diff)
				}
				var accepted, rejected int64
				for _, c := range w.want {
					accepted += c.GetAccepted()
					rejected += c.GetRejected()
				}
				if got.GetOrdersAccepted() != accepted || got.GetOrdersRejected() != rejected {
					t.Errorf("%v window: totals %d accepted, %d rejected; want the channels' sums %d, %d",
						w.window, got.GetOrdersAccepted(), got.GetOrdersRejected(), accepted, rejected)
				}
			}
			// The ops metric is the default window's pending ERP.
			var want strings.Builder
			want.WriteString("# HELP transload_ops_orders_pending_erp " + pendingERPHelp + "\n# TYPE transload_ops_orders_pending_erp gauge\n")
			for _, c := range st.want15m {
				fmt.Fprintf(&want, "transload_ops_orders_pending_erp{channel=%q} %d\n", c.GetChannel(), c.GetPendingErp())
			}
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "transload_ops_orders_pending_erp"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGetKpisDeskFigures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		open        map[opsv1.Exception_Domain]int64
		pending     map[string]int64
		wantDomains []*opsv1.DomainExceptions
		wantDepths  []*opsv1.DeadLetterDepth
	}{
		{
			name: "empty desk lists every domain at zero",
			wantDomains: []*opsv1.DomainExceptions{
				{Domain: opsv1.Exception_DOMAIN_COMMERCE}, {Domain: opsv1.Exception_DOMAIN_ERP},
				{Domain: opsv1.Exception_DOMAIN_FULFILLMENT}, {Domain: opsv1.Exception_DOMAIN_FINANCE},
			},
		},
		{
			name: "enum order, UNSPECIFIED left out, consumers sorted",
			open: map[opsv1.Exception_Domain]int64{
				opsv1.Exception_DOMAIN_FINANCE: 7, opsv1.Exception_DOMAIN_COMMERCE: 1, opsv1.Exception_DOMAIN_UNSPECIFIED: 2,
			},
			pending: map[string]int64{"posting-journal": 2, "fulfillment-order-confirmed": 5, "inventory-order-cancelled": 1},
			wantDomains: []*opsv1.DomainExceptions{
				{Domain: opsv1.Exception_DOMAIN_COMMERCE, Open: 1}, {Domain: opsv1.Exception_DOMAIN_ERP},
				{Domain: opsv1.Exception_DOMAIN_FULFILLMENT}, {Domain: opsv1.Exception_DOMAIN_FINANCE, Open: 7},
			},
			wantDepths: []*opsv1.DeadLetterDepth{
				{Consumer: "fulfillment-order-confirmed", Pending: 5},
				{Consumer: "inventory-order-cancelled", Pending: 1},
				{Consumer: "posting-journal", Pending: 2},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			f.desk.open, f.desk.pending = tc.open, tc.pending
			got, err := f.u.GetKpis(context.Background(), &opsv1.GetKpisRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantDomains, got.GetDomainExceptions(), protocmp.Transform()); diff != "" {
				t.Errorf("domain exceptions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDepths, got.GetDeadLetterDepths(), protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("dead-letter depths (-want +got):\n%s", diff)
			}
			if got.GetOpenExceptions() != sum(tc.open) || got.GetDeadLetterDepth() != sum(tc.pending) {
				t.Errorf("totals %d open, %d pending; want %d, %d", got.GetOpenExceptions(), got.GetDeadLetterDepth(), sum(tc.open), sum(tc.pending))
			}
		})
	}
}

func TestGetKpisVariancePositions(t *testing.T) {
	t.Parallel()
	succeeded := func(variances, skipped int64) *inventoryv1.Reconciliation {
		return &inventoryv1.Reconciliation{
			Name: "reconciliations/r-1", State: inventoryv1.Reconciliation_STATE_SUCCEEDED,
			VarianceCount: variances, SkippedCount: skipped, AbsoluteVarianceTotal: 40, EndTime: tspb(t0),
		}
	}
	tests := []struct {
		name      string
		runs      []*inventoryv1.Reconciliation
		gauge     float64 // inventory's transload_inventory_reconciliation_variances
		wantUnits int64
		want      int64
	}{
		{"latest successful run", []*inventoryv1.Reconciliation{succeeded(12, 0)}, 99, 40, 12},
		{"skipped pairs are not out of tolerance", []*inventoryv1.Reconciliation{succeeded(12, 5)}, 99, 40, 7},
		{"inconsistent run is not below zero", []*inventoryv1.Reconciliation{succeeded(1, 3)}, 99, 40, 0},
		{"failed runs do not count", []*inventoryv1.Reconciliation{{Name: "reconciliations/r-2", State: inventoryv1.Reconciliation_STATE_FAILED, VarianceCount: 8}}, 3, 0, 3},
		{"no run read: inventory's gauge", nil, 3, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricVariancePositions, Help: "h"})
			gauge.Set(tc.gauge)
			reg := prometheus.NewRegistry()
			reg.MustRegister(gauge)
			srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			t.Cleanup(srv.Close)
			f := newFixture(t, func(c *Config) { c.Targets = map[string]string{"inventory": srv.URL} })
			f.inv.runs = tc.runs
			f.u.round(context.Background())
			got, err := f.u.GetKpis(context.Background(), &opsv1.GetKpisRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetInventoryVariancePositions() != tc.want || got.GetInventoryVarianceUnits() != tc.wantUnits {
				t.Errorf("positions %d, units %d; want %d, %d", got.GetInventoryVariancePositions(), got.GetInventoryVarianceUnits(), tc.want, tc.wantUnits)
			}
		})
	}
}
