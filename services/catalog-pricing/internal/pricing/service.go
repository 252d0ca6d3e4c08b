package pricing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
)

// DefaultQuoteTTL caps how long a quote stays valid (QuotePricesResponse.expire_time).
const DefaultQuoteTTL = 15 * time.Minute

// QuoteCache holds computed quotes; platform/cache.Cache[Quote] satisfies
// it. Implementations are fail-open: Get misses and Set drops on outages.
type QuoteCache interface {
	Get(ctx context.Context, key string) (Quote, bool)
	Set(ctx context.Context, key string, q Quote, ttl time.Duration) error
}

// Service implements the pricing use cases.
type Service struct {
	store     Store
	catalog   Catalog
	cache     QuoteCache
	memo      *quoteMemo
	memoSize  int
	memoBytes int
	// data keeps the products, lists and prices quotes read, per version.
	data quoteData
	// computed counts quote computations (cache and memo misses), for tests.
	computed  atomic.Int64
	ttl       time.Duration
	now       func() time.Time
	committed func()
	// rules is the rule set of the latest published rule version seen,
	// built once per version and shared by every quote at it.
	rules atomic.Pointer[cachedRules]
	// versions reads the store's Versions for quotes, sharing one read
	// among concurrent quotes that all arrived before it began.
	versions *versionReader
}

// cachedRules is a published rule set indexed for quoting.
type cachedRules struct {
	version int64
	set     *RuleSet
	// limitedAuto: an automatic promotion has a usage limit;
	// limitedCodes: the codes of promotions with one.
	limitedAuto  bool
	limitedCodes map[string]bool
}

// needsUsage reports whether pricing req depends on promotion usage: an
// automatic promotion or an entered code has a usage limit.
func (c *cachedRules) needsUsage(req QuoteRequest) bool {
	if c.limitedAuto {
		return true
	}
	for _, code := range req.PromotionCodes {
		if c.limitedCodes[strings.ToUpper(code)] {
			return true
		}
	}
	return false
}

func (s *Service) eventsCommitted() {
	if s.committed != nil {
		s.committed()
	}
}

// Option configures a Service.
type Option func(*Service)

// WithCache caches quotes in c, with the last DefaultQuoteMemoSize
// decoded quotes also kept in process memory in front of it (WithQuoteMemo).
func WithCache(c QuoteCache) Option { return func(s *Service) { s.cache = c } }

// WithQuoteMemo keeps up to n decoded quotes (and at most
// DefaultQuoteMemoBytes of them, estimated) in process memory in front of
// the QuoteCache (same keys and expiry); n <= 0 turns the memo off. It only
// applies together with WithCache.
func WithQuoteMemo(n int) Option { return func(s *Service) { s.memoSize = n } }

// WithQuoteMemoBytes bounds the estimated memory of the memoized quotes
// (default DefaultQuoteMemoBytes, or QuoteMemoBytesFor the process's Go
// memory limit as the service's main sets it).
func WithQuoteMemoBytes(n int) Option { return func(s *Service) { s.memoBytes = n } }

// WithQuoteTTL sets the longest quote validity (default DefaultQuoteTTL).
func WithQuoteTTL(d time.Duration) Option { return func(s *Service) { s.ttl = d } }

// WithEventsCommitted sets f to be called after every committed
// transaction that wrote events (e.g. outbox.Relay.Notify); it must not
// block.
func WithEventsCommitted(f func()) Option { return func(s *Service) { s.committed = f } }

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns a pricing Service over store and the catalog.
func NewService(store Store, cat Catalog, opts ...Option) *Service {
	s := &Service{store: store, catalog: cat, ttl: DefaultQuoteTTL, now: time.Now, memoSize: DefaultQuoteMemoSize,
		memoBytes: DefaultQuoteMemoBytes}
	for _, o := range opts {
		o(s)
	}
	if s.cache != nil && s.memoSize > 0 {
		s.memo = newQuoteMemo(s.memoSize, s.memoBytes)
	}
	s.versions = newVersionReader(func(ctx context.Context) (Versions, error) { return s.store.Versions(ctx) })
	return s
}

// Quote prices req through the pipeline (engine.go) with the published
// rule set. Results are cached under a key carrying the catalog and price
// versions, so publishing or changing prices or rules yields new keys;
// quotes that depend on promotion usage (an automatic promotion or an
// entered code with a usage limit) are neither read from nor written to
// the cache, since redemptions do not change the price version. Errors:
// ErrCatalogNotPublished, *CurrencyMismatchError, *LineError (first
// unpriceable line, unless AllowPartial), *OverflowError.
func (s *Service) Quote(ctx context.Context, req QuoteRequest) (Quote, error) {
	q, _, err := s.quote(ctx, req)
	return q, err
}

// QuoteRendered is Quote followed by render(q, kept). When the quote is
// one the memo keeps (a repeatable quote: not usage-dependent, cache on),
// render runs once per memoized quote and view, with kept = true, and its
// result is returned to every later caller of that quote and view until
// the memo drops the quote; the key of the memo carries the catalog and
// price versions and the whole request, so a kept rendering is never
// served for another version, customer, channel, basket or code set.
// Otherwise render runs on every call with kept = false. render must not
// depend on anything but q and view, and its result must be treated as
// immutable by everyone it is returned to.
func (s *Service) QuoteRendered(ctx context.Context, req QuoteRequest, view string, render func(q Quote, kept bool) any) (any, error) {
	q, r, err := s.quote(ctx, req)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return render(q, false), nil
	}
	return r.get(view, q, render), nil
}

// quote is Quote, also returning the memo entry's renderings when the
// quote is memoized (nil otherwise).
func (s *Service) quote(ctx context.Context, req QuoteRequest) (Quote, *renderings, error) {
	vs, err := s.versions.get(ctx)
	if err != nil {
		return Quote{}, nil, fmt.Errorf("quote: %w", err)
	}
	cv, pv := vs.Catalog, vs.Price
	if cv == 0 {
		return Quote{}, nil, ErrCatalogNotPublished
	}
	rules, err := s.ruleSet(ctx, vs.Rules)
	if err != nil {
		return Quote{}, nil, fmt.Errorf("quote: %w", err)
	}
	key := cacheKey(req, cv, pv)
	now := s.now().UTC()
	usage := rules.needsUsage(req)
	if s.cache != nil && !usage {
		if s.memo != nil {
			if q, r, ok := s.memo.get(key, now); ok {
				// Asked for again: now it is worth sharing.
				if r != nil && r.shared.CompareAndSwap(false, true) {
					s.share(ctx, key, q, now)
				}
				return q, r, nil
			}
		}
		if q, ok := s.cache.Get(ctx, key); ok && q.ExpireTime.After(now) {
			var r *renderings
			if s.memo != nil {
				r = s.memo.put(key, q, now, true)
			}
			return q, r, nil
		}
	}
	q, err := s.compute(ctx, req, cv, pv, rules, usage, now)
	if err != nil {
		return Quote{}, nil, err
	}
	q.Etag = shortHash(key)
	var r *renderings
	if s.cache != nil && q.ExpireTime.After(now) && !usage {
		// With the memo, the quote goes to the shared cache on its second
		// request (above), so quotes nobody asks for again cost no cache
		// write; a quote the memo cannot hold is shared at once.
		if s.memo != nil {
			r = s.memo.put(key, q, now, false)
		}
		if r == nil {
			s.share(ctx, key, q, now)
		}
	}
	return q, r, nil
}

// share writes q to the QuoteCache until its expiry. A failed write only
// costs another caller a recomputation.
func (s *Service) share(ctx context.Context, key string, q Quote, now time.Time) {
	if ttl := q.ExpireTime.Sub(now); ttl > 0 {
		_ = s.cache.Set(ctx, key, q, ttl)
	}
}

// ruleSet returns the published rule set of rule version v, loading and
// indexing it once per version.
func (s *Service) ruleSet(ctx context.Context, v int64) (*cachedRules, error) {
	if c := s.rules.Load(); c != nil && c.version == v {
		return c, nil
	}
	c := &cachedRules{version: v, limitedCodes: map[string]bool{}}
	if v > 0 {
		snap, err := s.store.PublishedRuleSet(ctx, v)
		if err != nil {
			return nil, err
		}
		c.set = NewRuleSet(snap.Contracts, snap.Rules, snap.Promotions)
		for _, p := range snap.Promotions {
			if p.TotalLimit > 0 || p.PerCustomerLimit > 0 {
				c.limitedAuto = c.limitedAuto || p.Code == ""
				c.limitedCodes[p.Code] = p.Code != ""
			}
		}
	}
	s.rules.Store(c)
	return c, nil
}

func (s *Service) compute(ctx context.Context, req QuoteRequest, cv, pv int64, rules *cachedRules, usage bool, now time.Time) (Quote, error) {
	s.computed.Add(1)
	priceTime := req.PriceTime.UTC()
	if req.PriceTime.IsZero() {
		priceTime = now
	}
	lists, err := s.data.quoteListsAt(ctx, s.store, pv, req.Currency, req.Channel)
	if err != nil {
		return Quote{}, fmt.Errorf("quote: %w", err)
	}
	if len(lists) == 0 {
		curs, err := s.store.Currencies(ctx)
		if err != nil {
			return Quote{}, fmt.Errorf("quote: %w", err)
		}
		if len(curs) > 0 && !slices.Contains(curs, req.Currency) {
			return Quote{}, &CurrencyMismatchError{Requested: req.Currency, Available: curs}
		}
	}
	skus := make([]string, 0, len(req.Lines))
	seen := map[string]bool{}
	for _, l := range req.Lines {
		if !seen[l.SKU] {
			seen[l.SKU] = true
			skus = append(skus, l.SKU)
		}
	}
	products, err := s.data.productsAt(ctx, s.catalog, cv, skus)
	if err != nil {
		return Quote{}, fmt.Errorf("quote: %w", err)
	}
	in := quoteInput{catalogVersion: cv, priceVersion: pv, products: products, lists: lists,
		prices: map[string][]Price{}, listByID: map[string]PriceList{}, rules: rules.set}
	if usage {
		if in.usage, err = s.store.Usage(ctx, req.CustomerID); err != nil {
			return Quote{}, fmt.Errorf("quote: %w", err)
		}
	}
	ids := make([]string, 0, len(lists))
	for _, l := range lists {
		in.listByID[l.ID] = l
		ids = append(ids, l.ID)
	}
	if len(ids) > 0 {
		if in.prices, err = s.data.pricesAt(ctx, s.store, pv, ids, skus); err != nil {
			return Quote{}, fmt.Errorf("quote: %w", err)
		}
	}
	return compute(req, in, priceTime, now, s.ttl)
}

const (
	kindImportPrices    = "import_prices"
	kindUpsertPriceList = "upsert_price_list"
	kindDeletePriceList = "delete_price_list"
)

// UpsertPriceListRequest is the input of UpsertPriceList.
type UpsertPriceListRequest struct {
	RequestID    string    `json:"-"`
	List         PriceList `json:"list"`
	AllowMissing bool      `json:"allow_missing"`
	ValidateOnly bool      `json:"validate_only"`
	// ExpectedEtag, when set, must equal the stored list's etag.
	ExpectedEtag string `json:"etag"`
	// Actor is who changes the list, for the audit trail.
	Actor catalog.Actor `json:"-"`
}

// ErrConcurrentModification: the etag given with an update does not match.
var ErrConcurrentModification = errors.New("price list changed concurrently")

// ErrCurrencyImmutable: an update tried to change a list's currency.
var ErrCurrencyImmutable = errors.New("price list currency is immutable")

// UpsertPriceList replaces a price list header, creating it when
// AllowMissing is set. A change bumps the price version and announces
// PricesChanged. Errors: ErrPriceListNotFound, ErrInvalidEffectiveWindow,
// ErrConcurrentModification, ErrCurrencyImmutable, ErrIdempotencyKeyReused.
func (s *Service) UpsertPriceList(ctx context.Context, req UpsertPriceListRequest) (PriceList, error) {
	if !req.List.StartTime.IsZero() && !req.List.EndTime.IsZero() && !req.List.EndTime.After(req.List.StartTime) {
		return PriceList{}, ErrInvalidEffectiveWindow
	}
	hash := hashJSON(req)
	now := s.now().UTC()
	var out PriceList
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		if !req.ValidateOnly {
			if done, err := catalog.Replay(tx, kindUpsertPriceList, req.RequestID, hash, nil); err != nil {
				return err
			} else if done {
				out, err = tx.PriceList(req.List.ID)
				return err
			}
		}
		old, err := tx.PriceList(req.List.ID)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrPriceListNotFound) {
			return err
		}
		if !exists && !req.AllowMissing {
			return fmt.Errorf("%w: %s", ErrPriceListNotFound, req.List.ID)
		}
		if exists && req.ExpectedEtag != "" && req.ExpectedEtag != old.Etag {
			return ErrConcurrentModification
		}
		if exists && old.Currency != req.List.Currency {
			return ErrCurrencyImmutable
		}
		l := req.List
		l.Etag = l.ComputeEtag()
		l.CreateTime, l.UpdateTime, l.PriceCount = now, now, 0
		if exists {
			l.CreateTime, l.PriceCount, l.UpdateTime = old.CreateTime, old.PriceCount, old.UpdateTime
		}
		out = l
		if req.ValidateOnly {
			return nil
		}
		if exists && old.Etag == l.Etag {
			return catalog.Remember(tx, kindUpsertPriceList, req.RequestID, hash, nil)
		}
		l.UpdateTime = now
		out = l
		if err := tx.PutPriceList(l); err != nil {
			return err
		}
		if _, err := announce(tx, PricesChanged{EffectiveTime: effectiveFrom(l, now), RuleKinds: []RuleKind{RuleListPrice},
			Rules: []string{l.Name()}, AllSKUs: true}); err != nil {
			return err
		}
		var before any
		if exists {
			before = listSummary(old)
		}
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.upsert_price_list", Resource: l.Name(), Actor: req.Actor,
			Before: before, After: listSummary(l)}); err != nil {
			return err
		}
		return catalog.Remember(tx, kindUpsertPriceList, req.RequestID, hash, nil)
	})
	if err != nil {
		return PriceList{}, fmt.Errorf("upsert price list %s: %w", req.List.ID, err)
	}
	s.eventsCommitted()
	return out, nil
}

// PriceRow is one row of a price import.
type PriceRow struct {
	RowNumber int64   `json:"row"`
	SKU       string  `json:"sku"`
	UnitMinor int64   `json:"unit"`
	Currency  string  `json:"cur"`
	Breaks    []Break `json:"breaks,omitempty"`
	// BreakCurrencies are the currencies of the break prices as sent.
	BreakCurrencies []string `json:"break_cur,omitempty"`
	// HasCost, CostMinor and CostCurrency are the row's cost price.
	HasCost      bool   `json:"has_cost,omitempty"`
	CostMinor    int64  `json:"cost,omitempty"`
	CostCurrency string `json:"cost_cur,omitempty"`
}

// ImportPricesRequest is the input of ImportPrices.
type ImportPricesRequest struct {
	RequestID    string             `json:"-"`
	PriceList    string             `json:"list"`
	Source       string             `json:"source"`
	Mode         catalog.ImportMode `json:"mode"`
	Rows         []PriceRow         `json:"rows"`
	ValidateOnly bool               `json:"validate_only"`
	// Actor is who imports, for the audit trail.
	Actor catalog.Actor `json:"-"`
}

// ImportPricesResult is the outcome of an import.
type ImportPricesResult struct {
	catalog.ImportResult
	Deleted      int64 `json:"deleted"`
	PriceVersion int64 `json:"pv"`
}

// ImportPrices upserts the entries of one price list row by row; REPLACE_ALL
// also deletes entries no row mentioned, and writes nothing if any row is
// rejected. A change bumps the price version and announces PricesChanged in
// the same transaction. Errors: ErrPriceListNotFound, ErrIdempotencyKeyReused.
func (s *Service) ImportPrices(ctx context.Context, req ImportPricesRequest) (ImportPricesResult, error) {
	hash := hashJSON(req)
	now := s.now().UTC()
	var res ImportPricesResult
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		res = ImportPricesResult{}
		if !req.ValidateOnly {
			if done, err := catalog.Replay(tx, kindImportPrices, req.RequestID, hash, &res); done || err != nil {
				return err
			}
		}
		list, err := tx.PriceList(req.PriceList)
		if err != nil {
			return err
		}
		plan, err := planImport(tx, list, req, now)
		if err != nil {
			return err
		}
		res.ImportResult, res.Deleted = plan.result, int64(len(plan.deletes))
		if req.ValidateOnly {
			return nil
		}
		if res.PriceVersion, err = applyImport(tx, list, req, plan, now); err != nil {
			return err
		}
		return catalog.Remember(tx, kindImportPrices, req.RequestID, hash, res)
	})
	if err != nil {
		return ImportPricesResult{}, fmt.Errorf("import prices into %s: %w", req.PriceList, err)
	}
	s.eventsCommitted()
	return res, nil
}

// importPlan is what an import would do to a price list: the outcome of
// every row, the entries to write and the SKUs whose entries to delete.
type importPlan struct {
	result  catalog.ImportResult
	puts    []Price
	deletes []string
}

// planImport judges every row of req against list, its entries and the
// working catalog, without writing anything.
func planImport(tx Tx, list PriceList, req ImportPricesRequest, now time.Time) (importPlan, error) {
	existing, err := tx.Prices(list.ID, nil)
	if err != nil {
		return importPlan{}, err
	}
	skus := make([]string, 0, len(req.Rows))
	for _, r := range req.Rows {
		skus = append(skus, r.SKU)
	}
	inCatalog, err := tx.DraftSKUs(skus)
	if err != nil {
		return importPlan{}, err
	}
	var plan importPlan
	seenSKU, seenRow := map[string]bool{}, map[int64]bool{}
	for _, r := range req.Rows {
		rr := catalog.RowResult{RowNumber: r.RowNumber, SKU: r.SKU}
		if reason, field, msg := rejectRow(r, list, seenRow[r.RowNumber], seenSKU[r.SKU], inCatalog[r.SKU]); reason != catalog.ReasonNone {
			rr.Outcome, rr.Reason, rr.Field, rr.Message = catalog.RowRejected, reason, field, msg
		}
		seenRow[r.RowNumber] = true
		if rr.Outcome == catalog.RowRejected {
			plan.result.Add(rr)
			continue
		}
		seenSKU[r.SKU] = true
		p := Price{PriceList: list.ID, SKU: r.SKU, UnitMinor: r.UnitMinor, Currency: list.Currency, Breaks: r.Breaks,
			HasCost: r.HasCost, CostMinor: r.CostMinor}
		p.Etag = p.ComputeEtag()
		old, ok := existing[r.SKU]
		switch {
		case ok && old.Etag == p.Etag:
			rr.Outcome = catalog.RowUnchanged
		case ok:
			rr.Outcome = catalog.RowUpdated
		default:
			rr.Outcome = catalog.RowCreated
		}
		if rr.Outcome != catalog.RowUnchanged {
			p.UpdateTime = now
			plan.puts = append(plan.puts, p)
		}
		plan.result.Add(rr)
	}
	if req.Mode == catalog.ModeReplaceAll {
		for sku := range existing {
			if !seenSKU[sku] {
				plan.deletes = append(plan.deletes, sku)
			}
		}
		sort.Strings(plan.deletes)
		if plan.result.Rejected > 0 {
			plan.puts, plan.deletes = nil, nil
		}
	}
	return plan, nil
}

// rejectRow returns why row r cannot go into list (ReasonNone if it can):
// the first problem of its row number, SKU, currencies, amounts, quantity
// breaks and presence in the working catalog.
func rejectRow(r PriceRow, list PriceList, rowSeen, skuSeen, inCatalog bool) (catalog.RowReason, string, string) {
	switch {
	case rowSeen:
		return catalog.ReasonRowInvalid, "row_number", "row number appears twice in the request"
	case !catalog.ValidSKU(r.SKU):
		return catalog.ReasonRowInvalid, "sku", "must be 1..64 letters, digits, '.', '_' or '-'"
	case skuSeen:
		return catalog.ReasonRowInvalid, "sku", "SKU appears twice in the request"
	case r.Currency != list.Currency:
		return catalog.ReasonCurrencyMismatch, "unit_price.currency_code",
			fmt.Sprintf("price list %s is in %s, row is in %s", list.ID, list.Currency, r.Currency)
	case r.UnitMinor < 0:
		return catalog.ReasonRowInvalid, "unit_price.amount_minor", "amount must not be negative"
	case r.HasCost && r.CostCurrency != list.Currency:
		return catalog.ReasonCurrencyMismatch, "cost_price.currency_code",
			fmt.Sprintf("price list %s is in %s, cost is in %s", list.ID, list.Currency, r.CostCurrency)
	case r.HasCost && r.CostMinor < 0:
		return catalog.ReasonRowInvalid, "cost_price.amount_minor", "amount must not be negative"
	case len(r.Breaks) > 20:
		return catalog.ReasonRowInvalid, "quantity_breaks", "at most 20 quantity breaks"
	case !inCatalog:
		return catalog.ReasonProductNotFound, "sku", "SKU is not in the working catalog"
	}
	for i, c := range r.BreakCurrencies {
		if c != list.Currency {
			return catalog.ReasonCurrencyMismatch, fmt.Sprintf("quantity_breaks[%d].unit_price.currency_code", i),
				fmt.Sprintf("price list %s is in %s, break is in %s", list.ID, list.Currency, c)
		}
	}
	if i := ValidateBreaks(r.UnitMinor, r.Breaks); i >= 0 {
		return catalog.ReasonInvalidQuantityBreaks, fmt.Sprintf("quantity_breaks[%d]", i),
			"breaks must start at 2, strictly increase in min_quantity and not increase in price"
	}
	return catalog.ReasonNone, "", ""
}

// applyImport writes plan into list: the entries, the list's count, the
// new price version with its PricesChanged event and the audit record. It
// returns the price version after the import (unchanged when the plan
// changes nothing).
func applyImport(tx Tx, list PriceList, req ImportPricesRequest, plan importPlan, now time.Time) (int64, error) {
	if len(plan.puts) == 0 && len(plan.deletes) == 0 {
		return tx.PriceVersion()
	}
	if err := tx.PutPrices(plan.puts); err != nil {
		return 0, err
	}
	if err := tx.DeletePrices(list.ID, plan.deletes); err != nil {
		return 0, err
	}
	oldCount := list.PriceCount
	var err error
	if list.PriceCount, err = tx.CountPrices(list.ID); err != nil {
		return 0, err
	}
	list.UpdateTime = now
	if err := tx.PutPriceList(list); err != nil {
		return 0, err
	}
	pv, err := announce(tx, importEvent(list, plan, now))
	if err != nil {
		return 0, err
	}
	res := plan.result
	return pv, tx.AppendAudit(catalog.AuditRecord{Action: "pricing.import_prices", Resource: list.Name(), Actor: req.Actor,
		Before: map[string]any{"price_version": pv - 1, "price_count": oldCount},
		After: map[string]any{"price_version": pv, "price_count": list.PriceCount, "request_id": req.RequestID, "source": req.Source,
			"created": res.Created, "updated": res.Updated, "deleted": len(plan.deletes), "rejected": res.Rejected}})
}

// importEvent is the PricesChanged of an import: the SKUs written or
// deleted (all SKUs past 1000), and quantity breaks among the rule kinds
// when an entry written has them.
func importEvent(list PriceList, plan importPlan, now time.Time) PricesChanged {
	ev := PricesChanged{EffectiveTime: effectiveFrom(list, now), RuleKinds: []RuleKind{RuleListPrice}, Rules: []string{list.Name()}}
	for _, p := range plan.puts {
		ev.SKUs = append(ev.SKUs, p.SKU)
		if len(p.Breaks) > 0 && !slices.Contains(ev.RuleKinds, RuleQuantityBreak) {
			ev.RuleKinds = append(ev.RuleKinds, RuleQuantityBreak)
		}
	}
	ev.SKUs = append(ev.SKUs, plan.deletes...)
	sort.Strings(ev.SKUs)
	if len(ev.SKUs) > 1000 {
		ev.SKUs, ev.AllSKUs = nil, true
	}
	return ev
}

// announce takes the next price version and writes the PricesChanged
// event announcing it, always together: one event per price version is
// what makes the outbox sequence of the pricing aggregate equal the price
// version the event carries.
func announce(tx Tx, ev PricesChanged) (int64, error) {
	pv, err := tx.BumpPriceVersion()
	if err != nil {
		return 0, err
	}
	ev.PriceVersion = pv
	return pv, tx.AppendPricesChanged(ev)
}

// effectiveFrom is when a change to list takes effect: now, or the start
// of its window when that lies ahead.
func effectiveFrom(l PriceList, now time.Time) time.Time {
	if l.StartTime.After(now) {
		return l.StartTime
	}
	return now
}

// hashJSON fingerprints a request but its request id and actor (json:"-"),
// shortened like the hashes stored before platform/fingerprint existed.
func hashJSON(v any) string { return fingerprint.Of(v)[:32] }

// GetPriceList returns one price list.
func (s *Service) GetPriceList(ctx context.Context, id string) (PriceList, error) {
	return s.store.PriceList(ctx, id)
}

// GetPrice returns one entry of a price list.
func (s *Service) GetPrice(ctx context.Context, listID, sku string) (Price, error) {
	if _, err := s.store.PriceList(ctx, listID); err != nil {
		return Price{}, err
	}
	return s.store.Price(ctx, listID, sku)
}

// PriceVersion returns the global price version.
func (s *Service) PriceVersion(ctx context.Context) (int64, error) { return s.store.PriceVersion(ctx) }

// ListPriceLists returns up to limit price lists matching f with ids
// after after, by id.
func (s *Service) ListPriceLists(ctx context.Context, f ListFilter, after string, limit int) ([]PriceList, error) {
	return s.store.ListPriceLists(ctx, f, after, limit)
}

// ListPrices returns up to limit entries of price list listID matching f
// with SKUs after after, by SKU. ErrPriceListNotFound for an unknown list.
func (s *Service) ListPrices(ctx context.Context, listID string, f PriceFilter, after string, limit int) ([]Price, error) {
	if _, err := s.store.PriceList(ctx, listID); err != nil {
		return nil, err
	}
	return s.store.ListPrices(ctx, listID, f, after, limit)
}

// DeletePriceListRequest is the input of DeletePriceList.
type DeletePriceListRequest struct {
	RequestID    string `json:"-"`
	ID           string `json:"id"`
	ExpectedEtag string `json:"etag"`
	AllowMissing bool   `json:"allow_missing"`
	// Force also deletes the list's entries; without it a list with
	// entries is not deleted (ErrPriceListNotEmpty).
	Force bool `json:"force"`
	// Actor is who deletes, for the audit trail.
	Actor catalog.Actor `json:"-"`
}

// ErrPriceListNotEmpty: DeletePriceList without Force on a list that still
// has entries.
var ErrPriceListNotEmpty = errors.New("price list still has entries")

// DeletePriceList removes a price list (and with Force its entries); it
// stops applying to quotes at once. A deletion bumps the price version and
// announces PricesChanged. Errors: ErrPriceListNotFound (unless
// AllowMissing), ErrConcurrentModification, ErrPriceListNotEmpty,
// ErrIdempotencyKeyReused.
func (s *Service) DeletePriceList(ctx context.Context, req DeletePriceListRequest) error {
	hash := hashJSON(req)
	now := s.now().UTC()
	err := s.store.InTx(ctx, func(tx Tx) error {
		if err := tx.Lock(); err != nil {
			return err
		}
		if done, err := catalog.Replay(tx, kindDeletePriceList, req.RequestID, hash, nil); done || err != nil {
			return err
		}
		l, err := tx.PriceList(req.ID)
		if errors.Is(err, ErrPriceListNotFound) && req.AllowMissing {
			return catalog.Remember(tx, kindDeletePriceList, req.RequestID, hash, nil)
		}
		if err != nil {
			return err
		}
		if req.ExpectedEtag != "" && req.ExpectedEtag != l.Etag {
			return ErrConcurrentModification
		}
		n, err := tx.CountPrices(l.ID)
		if err != nil {
			return err
		}
		if n > 0 && !req.Force {
			return ErrPriceListNotEmpty
		}
		if err := tx.DeletePriceList(l.ID); err != nil {
			return err
		}
		if _, err := announce(tx, PricesChanged{EffectiveTime: now, RuleKinds: []RuleKind{RuleListPrice},
			Rules: []string{l.Name()}, AllSKUs: true}); err != nil {
			return err
		}
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.delete_price_list", Resource: l.Name(), Actor: req.Actor,
			Before: listSummary(l)}); err != nil {
			return err
		}
		return catalog.Remember(tx, kindDeletePriceList, req.RequestID, hash, nil)
	})
	if err != nil {
		return fmt.Errorf("delete price list %s: %w", req.ID, err)
	}
	s.eventsCommitted()
	return nil
}

// listSummary is the audit snapshot of a price list header.
func listSummary(l PriceList) map[string]any {
	return map[string]any{
		"display_name": l.DisplayName, "currency_code": l.Currency, "channel": l.Channel, "priority": l.Priority,
		"start_time": fmtTime(l.StartTime), "end_time": fmtTime(l.EndTime), "price_count": l.PriceCount, "etag": l.Etag,
	}
}
