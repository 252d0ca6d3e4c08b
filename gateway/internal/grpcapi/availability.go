package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/platform/cache"
	"github.com/transload/transload/platform/grpcclient"

	"github.com/transload/transload/gateway/internal/neighbours"
	"github.com/transload/transload/gateway/internal/stockview"
)

// CheckAvailability is the checkout hot path. Prices and stock come from
// different sources, and the weakest source used sets the response's
// confidence:
//
//   - stock comes from the stock projection (package stockview: a read
//     model of inventory's StockChangedEvents, CONFIDENCE_CACHED) for the
//     SKUs it holds for every warehouse the channel counts, and live from
//     inventory for the others (one batched, read-only query whose answer
//     also seeds the projection). Read-your-writes after CreateOrder and
//     CancelOrder: those drop the order's SKUs from the projection before
//     answering, so the caller's next availability reads them live. Without
//     a projection (no NATS) every call reads stock live;
//   - prices come from an in-process cache keyed by catalog version and
//     price version (CONFIDENCE_CACHED) while the versions seen on the last
//     live quote are younger than FreshFor, so a publication or price
//     change is a new key once seen: invalidation by construction,
//     staleness bounded by FreshFor; otherwise live from pricing
//     (QuotePrices, allow_partial) and the cache is refreshed;
//   - when pricing or inventory is down (UNAVAILABLE, breaker open, its own
//     timeout), the last good answer per line comes from the snapshot cache
//     (platform/cache, Redis when configured, so it survives gateway
//     restarts; protobuf wire bytes, written when the value changed and
//     otherwise at most once a minute, so its observe time can be up to a
//     minute older than the last live answer with that value) with stale = true and CONFIDENCE_LAST_PUBLISHED_SNAPSHOT;
//     a price falls back to the SKU's last unit price at any quantity. Only
//     when a line has no snapshot does the call fail with
//     ERROR_REASON_NO_SNAPSHOT_AVAILABLE.
//
// Each live call is bounded by DependencyTimeout so a slow dependency turns
// into a snapshot answer instead of a slow page. That budget is this call
// site's latency target, not a verdict on the neighbour, so it is applied
// by the caller (context.WithTimeout around the call), which the breaker
// leaves out: a quote slower than 1.5s must not open the catalog-pricing
// breaker that also guards GetProduct and ListProducts. The neighbours' own
// deadlines (CATALOG_TIMEOUT, INVENTORY_TIMEOUT) sit on the connections and
// do count. The fallback decision is grpcclient.ClassifyCtx on the
// handler's context, so the caller's own deadline or cancellation is never
// answered from a snapshot.

// skuPattern is what pricing and inventory accept as a SKU; other SKUs are
// answered as LINE_ISSUE_UNKNOWN_SKU without asking them.
var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// shipCutoffHourUTC: orders checked after this hour ship the next business day.
const shipCutoffHourUTC = 14

// liveEntryTTL bounds how long version-keyed entries occupy the cache; the
// version tracker, not this TTL, decides whether they are used.
const liveEntryTTL = 10 * time.Minute

// snapshotEntry is a last-good answer with the time it was observed.
type snapshotEntry struct {
	Data           []byte // proto wire bytes
	CatalogVersion int64
	ObserveTime    time.Time
}

// snapshotRewriteEvery is how often an unchanged snapshot value is written
// again, which restores it after a Redis outage or restart lost it.
const snapshotRewriteEvery = time.Minute

// Price entries live in process (quoteMemo): they are keyed by versions,
// so sharing them between replicas through Redis saved one quote per
// replica and version at the cost of a Redis round trip per line on every
// call.
const priceMemoryEntries = 100_000

type availability struct {
	priceLive *quoteMemo
	priceSnap *cache.Cache[snapshotEntry]
	stockSnap *cache.Cache[snapshotEntry]
	// written remembers the snapshot values this process wrote.
	written *snapshotMemo
	// view is the stock projection; nil reads stock live on every call.
	view *stockview.View

	freshFor, snapTTL, depTimeout time.Duration
	now                           func() time.Time
	logger                        *slog.Logger

	mu         sync.Mutex
	catalogVer int64
	priceVer   int64
	pricesSeen time.Time
	// gen counts invalidations; a live quote that started before one must
	// not make the versions it saw fresh again.
	gen uint64
}

// invalidatePrices forgets when versions were last seen, so the next call
// quotes live.
func (a *availability) invalidatePrices() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pricesSeen = time.Time{}
	a.gen++
}

func newAvailability(store cache.Store, o Options) (*availability, error) {
	var copts []cache.Option
	if o.CacheMetrics != nil {
		copts = append(copts, cache.WithMetrics(o.CacheMetrics))
	}
	copts = append(copts, cache.WithLogger(o.Logger))
	a := &availability{
		freshFor: o.FreshFor, snapTTL: o.SnapshotTTL, depTimeout: o.DependencyTimeout,
		now: o.Now, logger: o.Logger, view: o.StockView,
		written:   newSnapshotMemo(min(o.SnapshotTTL/2, snapshotRewriteEvery)),
		priceLive: newQuoteMemo(priceMemoryEntries),
	}
	var err error
	// The snapshot caches' names changed with their encoding (JSON before),
	// so old entries are never misread.
	if a.priceSnap, err = cache.NewCache(store, "gw-price-snap", snapshotCodec{}, copts...); err != nil {
		return nil, err
	}
	if a.stockSnap, err = cache.NewCache(store, "gw-stock-snap", snapshotCodec{}, copts...); err != nil {
		return nil, err
	}
	return a, nil
}

// availQuery is one CheckAvailability request after auth and validation.
type availQuery struct {
	channel, customer, currency string
	lines                       []*storefrontv1.RequestedLine
	// codes are the entered promotion codes, upper-cased, sorted, unique.
	codes []string
}

// part is the result of one dependency for the valid lines.
type part struct {
	confidence storefrontv1.Confidence
	asOf       time.Time
	degraded   string
	catalogVer int64
	codeIssues []*catalogv1.PromotionCodeIssue
}

// CheckAvailability implements storefrontv1.StorefrontServiceServer.
func (s *Server) CheckAvailability(ctx context.Context, req *storefrontv1.CheckAvailabilityRequest) (*storefrontv1.CheckAvailabilityResponse, error) {
	p, customer, err := s.callerFor(ctx, req.GetCustomerId())
	if err != nil {
		return nil, err
	}
	if err := s.checkCurrency("currency_code", req.GetCurrencyCode()); err != nil {
		return nil, err
	}
	q := availQuery{channel: p.Channel, customer: customer, currency: req.GetCurrencyCode(), lines: req.GetLines(),
		codes: promotionCodes(req.GetPromotionCodes())}

	// Valid lines go to the dependencies; SKUs are asked once each.
	var (
		validIdx []int
		skus     []string
		seen     = map[string]bool{}
	)
	for i, l := range q.lines {
		if !skuPattern.MatchString(l.GetSku()) {
			continue
		}
		validIdx = append(validIdx, i)
		if !seen[l.GetSku()] {
			seen[l.GetSku()] = true
			skus = append(skus, l.GetSku())
		}
	}

	var (
		prices   []*catalogv1.QuoteLine
		stock    map[string]*inventoryv1.SkuAvailability
		pPart    part
		sPart    part
		pErr     error
		sErr     error
		wg       sync.WaitGroup
		now      = s.now()
		hasValid = len(validIdx) > 0
	)
	if hasValid {
		wg.Go(func() { prices, pPart, pErr = s.avail.prices(ctx, s, q, validIdx, now) })
		wg.Go(func() { stock, sPart, sErr = s.avail.stock(ctx, s, q.channel, skus, now) })
		wg.Wait()
		if pErr != nil {
			return nil, pErr
		}
		if sErr != nil {
			return nil, sErr
		}
	} else {
		pPart = part{confidence: storefrontv1.Confidence_CONFIDENCE_LIVE, asOf: now}
		sPart = pPart
	}

	resp := &storefrontv1.CheckAvailabilityResponse{
		Confidence:     max(pPart.confidence, sPart.confidence),
		CatalogVersion: catalogVersionString(pPart.catalogVer),
		AsOfTime:       timestamppb.New(minTime(pPart.asOf, sPart.asOf)),
	}
	for _, d := range []string{pPart.degraded, sPart.degraded} {
		if d != "" {
			resp.DegradedDependencies = append(resp.DegradedDependencies, d)
		}
	}
	resp.Stale = len(resp.DegradedDependencies) > 0
	resp.PromotionCodeIssues = codeIssuesToProto(pPart.codeIssues)

	priceOf := make(map[int]*catalogv1.QuoteLine, len(validIdx))
	for k, i := range validIdx {
		priceOf[i] = prices[k]
	}
	for i, l := range q.lines {
		resp.Lines = append(resp.Lines, lineAvailability(l, priceOf[i], stock[l.GetSku()], req.GetIncludeWarehouseBreakdown(), now))
	}
	s.metrics.answered(resp)
	return resp, nil
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() {
		return b
	}
	if b.IsZero() || a.Before(b) {
		return a
	}
	return b
}

// lineAvailability assembles one answer line. ql is nil for SKUs that were
// not asked (invalid) and sa nil when inventory did not report the SKU.
func lineAvailability(l *storefrontv1.RequestedLine, ql *catalogv1.QuoteLine, sa *inventoryv1.SkuAvailability, breakdown bool, now time.Time) *storefrontv1.LineAvailability {
	out := &storefrontv1.LineAvailability{Sku: l.GetSku(), RequestedQuantity: l.GetQuantity()}
	out.Issue = storefrontv1.LineIssue_LINE_ISSUE_UNKNOWN_SKU
	if ql != nil {
		out.Issue = lineIssueFromPricing(ql.GetErrorReason())
	}
	if out.Issue == storefrontv1.LineIssue_LINE_ISSUE_UNSPECIFIED {
		out.UnitPrice = cloneMoney(ql.GetUnitPrice())
		out.ExtendedPrice = cloneMoney(ql.GetExtendedPrice())
		out.PriceExplanation = explanationToProto(ql.GetWinningRule(), ql.GetListPrice())
	}
	if out.Issue == storefrontv1.LineIssue_LINE_ISSUE_UNKNOWN_SKU {
		out.Promise = &storefrontv1.DeliveryPromise{Status: storefrontv1.DeliveryPromise_STATUS_UNAVAILABLE}
		return out
	}
	out.AvailableQuantity = sa.GetTotalAvailable()
	if breakdown {
		for _, w := range sa.GetWarehouses() {
			out.Warehouses = append(out.Warehouses, &storefrontv1.WarehouseAvailability{
				Warehouse: w.GetWarehouseCode(), AvailableQuantity: w.GetAvailable(),
			})
		}
	}
	out.Promise = promise(l.GetQuantity(), sa, now)
	return out
}

// promise decides whether and when a line ships: in stock, partial (the
// rest backordered), backorder (inbound expected) or unavailable.
func promise(requested int64, sa *inventoryv1.SkuAvailability, now time.Time) *storefrontv1.DeliveryPromise {
	available := max(sa.GetTotalAvailable(), 0)
	p := &storefrontv1.DeliveryPromise{}
	var inbound *date.Date
	for _, w := range sa.GetWarehouses() {
		if d := w.GetNextInboundDate(); d != nil && (inbound == nil || dateBefore(d, inbound)) {
			inbound = d
		}
	}
	sources := func(need int64) {
		for _, w := range sa.GetWarehouses() {
			if need <= 0 {
				return
			}
			if w.GetAvailable() > 0 {
				p.SourceWarehouses = append(p.SourceWarehouses, w.GetWarehouseCode())
				need -= w.GetAvailable()
			}
		}
	}
	switch {
	case available >= requested:
		p.Status = storefrontv1.DeliveryPromise_STATUS_IN_STOCK
		p.ShipDate = shipDate(now)
		sources(requested)
	case available > 0:
		p.Status = storefrontv1.DeliveryPromise_STATUS_PARTIAL
		p.ShipDate = shipDate(now)
		p.BackorderQuantity = requested - available
		if sa.GetTotalInbound() > 0 && inbound != nil {
			p.BackorderShipDate = inbound
		}
		sources(available)
	case sa.GetTotalInbound() > 0:
		p.Status = storefrontv1.DeliveryPromise_STATUS_BACKORDER
		p.BackorderQuantity = requested
		p.BackorderShipDate = inbound
	default:
		p.Status = storefrontv1.DeliveryPromise_STATUS_UNAVAILABLE
	}
	return p
}

func dateBefore(a, b *date.Date) bool {
	if a.GetYear() != b.GetYear() {
		return a.GetYear() < b.GetYear()
	}
	if a.GetMonth() != b.GetMonth() {
		return a.GetMonth() < b.GetMonth()
	}
	return a.GetDay() < b.GetDay()
}

// shipDate is today (UTC) before the cutoff, else the next day, moved past
// weekends.
func shipDate(now time.Time) *date.Date {
	d := now.UTC()
	if d.Hour() >= shipCutoffHourUTC {
		d = d.AddDate(0, 0, 1)
	}
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return &date.Date{Year: int32(d.Year()), Month: int32(d.Month()), Day: int32(d.Day())}
}

// --- pricing part ---

// priceLiveKey is "cv|pv|channel|customer|currency|sku|qty", built
// without fmt: it is made for every line of every hot call.
func priceLiveKey(cv, pv int64, q availQuery, sku string, qty int64) string {
	b := make([]byte, 0, 48+len(q.channel)+len(q.customer)+len(q.currency)+len(sku))
	b = strconv.AppendInt(b, cv, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, pv, 10)
	for _, s := range []string{q.channel, q.customer, q.currency, sku} {
		b = append(b, '|')
		b = append(b, s...)
	}
	b = append(b, '|')
	b = strconv.AppendInt(b, qty, 10)
	return string(b)
}

// promotionCodes returns the entered codes upper-cased, sorted and unique.
func promotionCodes(codes []string) []string {
	if len(codes) == 0 {
		return nil
	}
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		out = append(out, strings.ToUpper(c))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func priceSnapKey(q availQuery, sku string, qty int64) string {
	return fmt.Sprintf("%s|%s|%s|%s|%d", q.channel, q.customer, q.currency, sku, qty)
}

func priceSnapAnyQtyKey(q availQuery, sku string) string {
	return fmt.Sprintf("%s|%s|%s|%s|*", q.channel, q.customer, q.currency, sku)
}

// prices returns one QuoteLine per valid line (same order as idx).
func (a *availability) prices(ctx context.Context, s *Server, q availQuery, idx []int, now time.Time) ([]*catalogv1.QuoteLine, part, error) {
	if out, cv, ok := a.cachedPrices(ctx, q, idx, now); ok {
		return out, part{confidence: storefrontv1.Confidence_CONFIDENCE_CACHED, asOf: now, catalogVer: cv}, nil
	}
	// SUMMARY: availability shows prices and the winning rule's explanation,
	// never the losing candidates, so pricing neither builds nor sends them.
	req := &catalogv1.QuotePricesRequest{
		CustomerId: q.customer, Channel: q.channel, CurrencyCode: q.currency, AllowPartial: true, PromotionCodes: q.codes,
		View: catalogv1.QuoteView_QUOTE_VIEW_SUMMARY,
	}
	for _, i := range idx {
		req.Lines = append(req.Lines, &catalogv1.QuoteRequestLine{Sku: q.lines[i].GetSku(), Quantity: q.lines[i].GetQuantity()})
	}
	a.mu.Lock()
	gen := a.gen
	a.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, a.depTimeout)
	resp, err := s.n.Pricing.QuotePrices(cctx, req)
	cancel()
	if err == nil && len(resp.GetLines()) != len(idx) {
		s.logger.ErrorContext(ctx, "pricing answered a different number of lines", slog.Int("want", len(idx)), slog.Int("got", len(resp.GetLines())))
		return nil, part{}, apierr.Internal()
	}
	if err == nil {
		if len(q.codes) == 0 && len(resp.GetAppliedPromotions()) == 0 {
			// A line's price with a promotion may depend on the other
			// lines (order-level promotions) and on usage (limited
			// codes): only promotion-free answers are cached per line.
			a.storePrices(ctx, q, idx, resp, now, gen)
		}
		return resp.GetLines(), part{confidence: storefrontv1.Confidence_CONFIDENCE_LIVE, asOf: now, catalogVer: resp.GetCatalogVersion(),
			codeIssues: resp.GetPromotionCodeIssues()}, nil
	}
	if !grpcclient.ClassifyCtx(ctx, err).DependencyFailure() {
		if status.Code(err) == codes.InvalidArgument {
			return nil, part{}, passInvalidArgument(err, "")
		}
		return nil, part{}, s.dependencyError(ctx, neighbours.Pricing, err)
	}
	s.logger.WarnContext(ctx, "pricing unavailable, answering from snapshot", slog.String("grpc.code", status.Code(err).String()))
	out := make([]*catalogv1.QuoteLine, len(idx))
	pt := part{confidence: storefrontv1.Confidence_CONFIDENCE_LAST_PUBLISHED_SNAPSHOT, degraded: neighbours.Pricing}
	for k, i := range idx {
		l := q.lines[i]
		ql, e, ok := a.snapshotPrice(ctx, q, l.GetSku(), l.GetQuantity())
		if !ok {
			return nil, part{}, errNoSnapshot(neighbours.Pricing)
		}
		out[k] = ql
		pt.asOf = minTime(pt.asOf, e.ObserveTime)
		if pt.catalogVer == 0 || e.CatalogVersion < pt.catalogVer {
			pt.catalogVer = e.CatalogVersion
		}
	}
	return out, pt, nil
}

func (a *availability) cachedPrices(ctx context.Context, q availQuery, idx []int, now time.Time) ([]*catalogv1.QuoteLine, int64, bool) {
	if a.freshFor <= 0 || len(q.codes) > 0 {
		return nil, 0, false
	}
	a.mu.Lock()
	cv, pv, seen := a.catalogVer, a.priceVer, a.pricesSeen
	a.mu.Unlock()
	if seen.IsZero() || now.Sub(seen) >= a.freshFor {
		return nil, 0, false
	}
	out := make([]*catalogv1.QuoteLine, len(idx))
	for k, i := range idx {
		l := q.lines[i]
		ql, ok := a.priceLive.get(priceLiveKey(cv, pv, q, l.GetSku(), l.GetQuantity()))
		if !ok {
			return nil, 0, false
		}
		out[k] = ql
	}
	return out, cv, true
}

// storePrices caches a live quote under its versions and as the snapshot.
// Cached quotes never outlive the quote's expire_time (a price that becomes
// effective later does not bump the version when it starts applying).
func (a *availability) storePrices(ctx context.Context, q availQuery, idx []int, resp *catalogv1.QuotePricesResponse, now time.Time, gen uint64) {
	cv, pv := resp.GetCatalogVersion(), resp.GetPriceVersion()
	ttl := liveEntryTTL
	if exp := resp.GetExpireTime(); exp != nil {
		ttl = min(ttl, exp.AsTime().Sub(now))
	}
	a.mu.Lock()
	if a.gen == gen && ttl > 0 && (cv > a.catalogVer || pv > a.priceVer || (cv == a.catalogVer && pv == a.priceVer)) {
		a.catalogVer, a.priceVer, a.pricesSeen = cv, pv, now
	}
	a.mu.Unlock()
	for k, i := range idx {
		l, ql := q.lines[i], resp.GetLines()[k]
		// ql is also in this call's answer, which only reads it.
		a.priceLive.set(priceLiveKey(cv, pv, q, l.GetSku(), l.GetQuantity()), ql, ttl)
		if ql.GetErrorReason() != catalogv1.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ql)
		if err != nil {
			continue
		}
		e := snapshotEntry{Data: b, CatalogVersion: cv, ObserveTime: now}
		for _, key := range []string{priceSnapKey(q, l.GetSku(), l.GetQuantity()), priceSnapAnyQtyKey(q, l.GetSku())} {
			if !a.written.unchanged(a.priceSnap.Name()+key, b, cv, now) {
				a.setLog(ctx, a.priceSnap.Set(ctx, key, e, a.snapTTL))
			}
		}
	}
}

func (a *availability) setLog(ctx context.Context, err error) {
	if err != nil {
		a.logger.WarnContext(ctx, "availability cache write failed", slog.Any("error", err))
	}
}

// snapshotPrice returns the last good price for the exact quantity, else the
// last unit price of the SKU at any quantity, extended to qty.
func (a *availability) snapshotPrice(ctx context.Context, q availQuery, sku string, qty int64) (*catalogv1.QuoteLine, snapshotEntry, bool) {
	if e, ok := a.priceSnap.Get(ctx, priceSnapKey(q, sku, qty)); ok {
		ql := &catalogv1.QuoteLine{}
		if proto.Unmarshal(e.Data, ql) == nil {
			return ql, e, true
		}
	}
	e, ok := a.priceSnap.Get(ctx, priceSnapAnyQtyKey(q, sku))
	if !ok {
		return nil, snapshotEntry{}, false
	}
	ql := &catalogv1.QuoteLine{}
	if proto.Unmarshal(e.Data, ql) != nil || ql.GetUnitPrice() == nil {
		return nil, snapshotEntry{}, false
	}
	ql.Quantity = qty
	ql.ExtendedPrice = money(ql.GetUnitPrice().GetAmountMinor()*qty, ql.GetUnitPrice().GetCurrencyCode())
	return ql, e, true
}

// --- inventory part ---

func stockSnapKey(channel, sku string) string { return channel + "|" + sku }

// stock returns the availability per SKU: from the projection for the SKUs
// it can answer, live from inventory for the rest.
func (a *availability) stock(ctx context.Context, s *Server, channel string, skus []string, now time.Time) (map[string]*inventoryv1.SkuAvailability, part, error) {
	if a.view == nil {
		return a.liveStock(ctx, s, channel, skus, now, nil)
	}
	found, missing, tok := a.view.Lookup(channel, skus)
	cached := part{confidence: storefrontv1.Confidence_CONFIDENCE_CACHED, asOf: now}
	if len(missing) == 0 {
		return found, cached, nil
	}
	live, pt, err := a.liveStock(ctx, s, channel, missing, now, &tok)
	if err != nil || len(found) == 0 {
		return live, pt, err
	}
	maps.Copy(found, live)
	pt.confidence = max(pt.confidence, cached.confidence)
	return found, pt, nil
}

// liveStock asks inventory (seeding the projection with the answer when
// tok is set), falling back to snapshots when it cannot answer.
func (a *availability) liveStock(ctx context.Context, s *Server, channel string, skus []string, now time.Time, tok *stockview.Token) (map[string]*inventoryv1.SkuAvailability, part, error) {
	cctx, cancel := context.WithTimeout(ctx, a.depTimeout)
	resp, err := s.n.Inventory.CheckAvailability(cctx, &inventoryv1.CheckAvailabilityRequest{Skus: skus, Channel: channel})
	cancel()
	if err == nil {
		out := make(map[string]*inventoryv1.SkuAvailability, len(skus))
		for _, sa := range resp.GetSkus() {
			out[sa.GetSku()] = sa
		}
		if tok != nil {
			a.view.Seed(channel, *tok, resp.GetSkus())
		}
		a.storeStock(ctx, channel, resp.GetSkus(), now)
		return out, part{confidence: storefrontv1.Confidence_CONFIDENCE_LIVE, asOf: now}, nil
	}
	if !grpcclient.ClassifyCtx(ctx, err).DependencyFailure() {
		switch {
		case apierr.HasReason(err, inventoryv1.ErrorReason_ERROR_REASON_NO_WAREHOUSE_FOR_CHANNEL):
			// No warehouse serves the channel: nothing is available.
			return map[string]*inventoryv1.SkuAvailability{}, part{confidence: storefrontv1.Confidence_CONFIDENCE_LIVE, asOf: now}, nil
		case status.Code(err) == codes.InvalidArgument:
			return nil, part{}, passInvalidArgument(err, "")
		}
		return nil, part{}, s.dependencyError(ctx, neighbours.Inventory, err)
	}
	s.logger.WarnContext(ctx, "inventory unavailable, answering from snapshot", slog.String("grpc.code", status.Code(err).String()))
	out := make(map[string]*inventoryv1.SkuAvailability, len(skus))
	pt := part{confidence: storefrontv1.Confidence_CONFIDENCE_LAST_PUBLISHED_SNAPSHOT, degraded: neighbours.Inventory}
	for _, sku := range skus {
		e, ok := a.stockSnap.Get(ctx, stockSnapKey(channel, sku))
		sa := &inventoryv1.SkuAvailability{}
		if !ok || proto.Unmarshal(e.Data, sa) != nil {
			return nil, part{}, errNoSnapshot(neighbours.Inventory)
		}
		out[sku] = sa
		pt.asOf = minTime(pt.asOf, e.ObserveTime)
	}
	return out, pt, nil
}

func (a *availability) storeStock(ctx context.Context, channel string, skus []*inventoryv1.SkuAvailability, now time.Time) {
	for _, sa := range skus {
		if !sa.GetKnown() {
			continue
		}
		// Deterministic, so an unchanged answer has the same bytes.
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sa)
		if err != nil {
			continue
		}
		key := stockSnapKey(channel, sa.GetSku())
		if a.written.unchanged(a.stockSnap.Name()+key, b, 0, now) {
			continue
		}
		a.setLog(ctx, a.stockSnap.Set(ctx, key, snapshotEntry{Data: b, ObserveTime: now}, a.snapTTL))
	}
}
