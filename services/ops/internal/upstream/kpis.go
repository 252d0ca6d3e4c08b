package upstream

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/ops/internal/kpi"
)

// KPI windows of the ops contract.
const (
	DefaultWindow = 15 * time.Minute
	MinWindow     = time.Minute
	MaxWindow     = 7 * 24 * time.Hour
)

// The service metrics the KPIs read, by family name.
const (
	// order: histogram of accepted CreateOrder latency.
	metricAcceptance = "transload_order_acceptance_seconds"
	// order: counters of decisions per channel and stage, "placement"
	// (accepted pending ERP / refused for a business reason) or "erp"
	// (confirmed / rejected by the ERP).
	metricOrdersAccepted = "transload_order_orders_accepted_total"
	metricOrdersRejected = "transload_order_orders_rejected_total"
	// order: ERP queue gauges.
	metricERPDepth  = "transload_order_erp_queue_depth"
	metricERPOldest = "transload_order_erp_queue_oldest_age_seconds"
	// order: histogram of WMS event time → order state visible; preferred
	// over fulfillment's (WMS event → recorded in fulfillment) when scraped.
	metricOrderPropagation       = "transload_order_shipment_propagation_seconds"
	metricFulfillmentPropagation = "transload_fulfillment_shipment_status_propagation_seconds"
	// catalog-pricing: QuotePrices calls by result ("ok" or the reason).
	metricQuotes = "transload_catalog_quotes_total"
	// inventory: |variance| of the latest successful reconciliation, and
	// how many variances it found.
	metricVariance          = "transload_inventory_reconciliation_absolute_variance_units"
	metricVariancePositions = "transload_inventory_reconciliation_variances"
	// platform/outbox, per service.
	metricOutboxPending = "transload_outbox_unpublished_events"
	metricOutboxAge     = "transload_outbox_oldest_unpublished_age_seconds"
	// platform/breaker, per service and target: 0 closed, 1 half-open, 2 open.
	metricBreaker = "transload_breaker_state"
)

// The stage label of the decision counters: a decision made at
// CreateOrder, or the ERP's confirmation or rejection.
const (
	stagePlacement = "placement"
	stageERP       = "erp"
)

var keptFamilies = map[string]bool{
	metricAcceptance: true, metricOrdersAccepted: true, metricOrdersRejected: true, metricERPDepth: true, metricERPOldest: true,
	metricOrderPropagation: true, metricFulfillmentPropagation: true, metricQuotes: true,
	metricVariance: true, metricVariancePositions: true, metricOutboxPending: true, metricOutboxAge: true, metricBreaker: true,
}

func keepFamily(name string) bool { return keptFamilies[name] }

// GetKpis implements OpsService.GetKpis over the request's window
// (DefaultWindow when unset, MinWindow to MaxWindow), ending now.
func (u *Upstream) GetKpis(ctx context.Context, req *opsv1.GetKpisRequest) (*opsv1.Kpis, error) {
	window := DefaultWindow
	if w := req.GetWindow(); w != nil {
		if err := w.CheckValid(); err != nil {
			return nil, invalidArgument([]apierr.FieldViolation{{Field: "window", Description: "is not a valid duration", Reason: "DURATION_VALID"}})
		}
		window = w.AsDuration()
		if window < MinWindow || window > MaxWindow {
			return nil, invalidArgument([]apierr.FieldViolation{{Field: "window", Description: "must be between 60s and 604800s", Reason: "DURATION_RANGE"}})
		}
	}
	open, err := u.desk.OpenExceptions(ctx)
	if err != nil {
		u.logger.ErrorContext(ctx, "ops: count open exceptions", slog.Any("error", err))
		return nil, apierr.Internal()
	}
	pending, err := u.desk.PendingDeadLetters(ctx)
	if err != nil {
		u.logger.ErrorContext(ctx, "ops: count pending dead letters", slog.Any("error", err))
		return nil, apierr.Internal()
	}
	now := u.now()
	k := u.scraped(now, window)
	k.OpenExceptions = sum(open)
	k.DeadLetterDepth = sum(pending)
	for _, d := range domains {
		k.DomainExceptions = append(k.DomainExceptions, &opsv1.DomainExceptions{Domain: d, Open: open[d]})
	}
	for _, c := range slices.Sorted(maps.Keys(pending)) {
		k.DeadLetterDepths = append(k.DeadLetterDepths, &opsv1.DeadLetterDepth{Consumer: c, Pending: pending[c]})
	}
	return k, nil
}

func sum[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// scraped computes the KPIs that come from the scraped metrics and the
// latest reconciliation.
func (u *Upstream) scraped(now time.Time, window time.Duration) *opsv1.Kpis {
	from := now.Add(-window)
	s := u.store
	k := &opsv1.Kpis{
		Window:                   durationpb.New(window),
		ComputeTime:              timestamppb.New(now),
		OrderAcceptanceLatency:   latency(s.Histogram(metricAcceptance, from, now, nil)),
		OldestPendingErpOrderAge: durationpb.New(0),
	}

	k.ChannelOrders = channelOrders(s, from, now)
	for _, c := range k.ChannelOrders {
		k.OrdersAccepted += c.GetAccepted()
		k.OrdersRejected += c.GetRejected()
	}
	if !s.Has(metricOrdersAccepted) {
		// An order service without the decision counters: every observed
		// acceptance is an order accepted.
		k.OrdersAccepted = int64(s.Histogram(metricAcceptance, from, now, nil).Count)
	}

	for _, v := range s.Latest(metricERPDepth, now) {
		k.ErpQueueDepth += int64(v.Value)
	}
	var oldest float64
	for _, v := range s.Latest(metricERPOldest, now) {
		oldest = max(oldest, v.Value)
	}
	k.OldestPendingErpOrderAge = seconds(oldest)

	prop := metricFulfillmentPropagation
	if s.Has(metricOrderPropagation + "_bucket") {
		prop = metricOrderPropagation
	}
	k.ShipmentPropagationLatency = latency(s.Histogram(prop, from, now, nil))

	for _, v := range s.Increase(metricQuotes, from, now) {
		k.PricingCalls += int64(v.Value)
		if v.Label("result") != "ok" {
			k.FailedPricingCalls += int64(v.Value)
		}
	}

	k.OutboxLags = outboxLags(s, now)
	k.Breakers = breakers(s, now)

	u.mu.Lock()
	last := u.lastReco
	u.mu.Unlock()
	if last != nil {
		k.InventoryVarianceUnits = last.GetAbsoluteVarianceTotal()
		k.InventoryVariancePositions = variancePositions(last)
		k.LastReconciliationTime = last.GetEndTime()
	} else {
		// inventory unreachable over gRPC (or not read yet): its gauges of
		// the same run. The positions gauge also counts the pairs skipped
		// as SKIPPED_SNAPSHOT_BEHIND, which the run's fields leave out.
		for _, v := range s.Latest(metricVariance, now) {
			k.InventoryVarianceUnits += int64(v.Value)
		}
		for _, v := range s.Latest(metricVariancePositions, now) {
			k.InventoryVariancePositions += int64(v.Value)
		}
	}
	return k
}

// variancePositions counts the positions behind a run's absolute variance
// total: its variances but those skipped because the snapshot was behind
// Transload's stock, whose difference is no lost or found stock (inventory
// leaves them out of the total and never raises an exception for them).
func variancePositions(r *inventoryv1.Reconciliation) int64 {
	return max(r.GetVarianceCount()-r.GetSkippedCount(), 0)
}

// channelOrders counts each sales channel's orders between from and to
// from order's decision counters, summed over the order replicas, sorted
// by channel. Every channel with a decision counter is listed, at zero
// when it had no order in the window.
//
// Accepted are the ACCEPTED answers at placement (the ERP's later
// confirmations are not new orders); rejected are the refusals at
// placement plus the ERP's rejections; pending ERP is accepted minus
// decided by the ERP (confirmed or rejected) in the window, not below
// zero: a window can see the ERP decide orders accepted before it.
func channelOrders(s *kpi.Store, from, to time.Time) []*opsv1.ChannelOrders {
	type counts struct{ accepted, rejected, decidedByERP int64 }
	byChannel := map[string]*counts{}
	get := func(v kpi.Value) *counts {
		c := byChannel[v.Label("channel")]
		if c == nil {
			c = &counts{}
			byChannel[v.Label("channel")] = c
		}
		return c
	}
	for _, v := range s.Increase(metricOrdersAccepted, from, to) {
		c := get(v)
		switch v.Label("stage") {
		case stagePlacement:
			c.accepted += int64(v.Value)
		case stageERP:
			c.decidedByERP += int64(v.Value)
		}
	}
	for _, v := range s.Increase(metricOrdersRejected, from, to) {
		c := get(v)
		c.rejected += int64(v.Value)
		if v.Label("stage") == stageERP {
			c.decidedByERP += int64(v.Value)
		}
	}
	out := make([]*opsv1.ChannelOrders, 0, len(byChannel))
	for _, ch := range slices.Sorted(maps.Keys(byChannel)) {
		c := byChannel[ch]
		out = append(out, &opsv1.ChannelOrders{
			Channel:    ch,
			Accepted:   c.accepted,
			PendingErp: max(c.accepted-c.decidedByERP, 0),
			Rejected:   c.rejected,
		})
	}
	return out
}

func latency(d kpi.Distribution) *opsv1.LatencySummary {
	out := &opsv1.LatencySummary{Count: int64(d.Count)}
	if out.Count == 0 {
		return out
	}
	out.P50 = seconds(d.Quantile(0.5))
	out.P99 = seconds(d.Quantile(0.99))
	return out
}

// seconds converts a metric's seconds to a Duration; nil for NaN and
// infinities, which have no Duration.
func seconds(v float64) *durationpb.Duration {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return durationpb.New(time.Duration(v * float64(time.Second)))
}

func outboxLags(s *kpi.Store, now time.Time) []*opsv1.OutboxLag {
	byService := map[string]*opsv1.OutboxLag{}
	get := func(service string) *opsv1.OutboxLag {
		l := byService[service]
		if l == nil {
			l = &opsv1.OutboxLag{Service: service, OldestPendingAge: durationpb.New(0)}
			byService[service] = l
		}
		return l
	}
	for _, v := range s.Latest(metricOutboxPending, now) {
		get(v.Target).PendingEvents += int64(v.Value)
	}
	for _, v := range s.Latest(metricOutboxAge, now) {
		l := get(v.Target)
		if d := seconds(v.Value); d != nil && d.AsDuration() > l.GetOldestPendingAge().AsDuration() {
			l.OldestPendingAge = d
		}
	}
	out := make([]*opsv1.OutboxLag, 0, len(byService))
	for _, l := range byService {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *opsv1.OutboxLag) int { return cmp.Compare(a.GetService(), b.GetService()) })
	return out
}

func breakers(s *kpi.Store, now time.Time) []*opsv1.BreakerStatus {
	var out []*opsv1.BreakerStatus
	for _, v := range s.Latest(metricBreaker, now) {
		b := &opsv1.BreakerStatus{Service: v.Target, Dependency: v.Label("target"), State: breakerFromGauge(v.Value)}
		if !v.ChangeTime.IsZero() {
			b.ChangeTime = timestamppb.New(v.ChangeTime)
		}
		out = append(out, b)
	}
	return out
}

// breakerFromGauge reads platform/breaker's state gauge.
func breakerFromGauge(v float64) opsv1.BreakerState {
	switch v {
	case 0:
		return opsv1.BreakerState_BREAKER_STATE_CLOSED
	case 1:
		return opsv1.BreakerState_BREAKER_STATE_HALF_OPEN
	case 2:
		return opsv1.BreakerState_BREAKER_STATE_OPEN
	}
	return opsv1.BreakerState_BREAKER_STATE_UNSPECIFIED
}

// labelValue renders an enum value for a metric label: lower case, without
// the enum's prefix ("DOMAIN_ERP" → "erp").
func labelValue(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}
