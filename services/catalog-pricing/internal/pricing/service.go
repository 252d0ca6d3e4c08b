package pricing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
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
	ttl       time.Duration
	now       func() time.Time
	committed func()
}

func (s *Service) eventsCommitted() {
	if s.committed != nil {
		s.committed()
	}
}

// Option configures a Service.
type Option func(*Service)

// WithCache caches quotes in c.
func WithCache(c QuoteCache) Option { return func(s *Service) { s.cache = c } }

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
	s := &Service{store: store, catalog: cat, ttl: DefaultQuoteTTL, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Quote prices req at list price. Results are cached under a key carrying
// the catalog and price versions, so publishing or changing prices yields
// new keys. Errors: ErrCatalogNotPublished, *CurrencyMismatchError,
// *LineError (first unpriceable line, unless AllowPartial), *OverflowError.
func (s *Service) Quote(ctx context.Context, req QuoteRequest) (Quote, error) {
	cv, pv, err := s.store.Versions(ctx)
	if err != nil {
		return Quote{}, fmt.Errorf("quote: %w", err)
	}
	if cv == 0 {
		return Quote{}, ErrCatalogNotPublished
	}
	key := cacheKey(req, cv, pv)
	now := s.now().UTC()
	if s.cache != nil {
		if q, ok := s.cache.Get(ctx, key); ok && q.ExpireTime.After(now) {
			return q, nil
		}
	}
	q, err := s.compute(ctx, req, cv, pv, now)
	if err != nil {
		return Quote{}, err
	}
	q.Etag = shortHash(key)
	if ttl := q.ExpireTime.Sub(now); s.cache != nil && ttl > 0 {
		// A failed write only costs the next caller a recomputation.
		_ = s.cache.Set(ctx, key, q, ttl)
	}
	return q, nil
}

func (s *Service) compute(ctx context.Context, req QuoteRequest, cv, pv int64, now time.Time) (Quote, error) {
	priceTime := req.PriceTime.UTC()
	if req.PriceTime.IsZero() {
		priceTime = now
	}
	lists, err := s.store.QuoteLists(ctx, req.Currency, req.Channel)
	if err != nil {
		return Quote{}, fmt.Errorf("quote: %w", err)
	}
	if len(lists) == 0 {
		curs, err := s.store.Currencies(ctx)
		if err != nil {
			return Quote{}, fmt.Errorf("quote: %w", err)
		}
		if len(curs) > 0 && !contains(curs, req.Currency) {
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
	products, err := s.catalog.Products(ctx, cv, skus)
	if err != nil {
		return Quote{}, fmt.Errorf("quote: %w", err)
	}
	in := quoteInput{catalogVersion: cv, priceVersion: pv, products: products, lists: lists,
		prices: map[string][]Price{}, listByID: map[string]PriceList{}}
	ids := make([]string, 0, len(lists))
	for _, l := range lists {
		in.listByID[l.ID] = l
		ids = append(ids, l.ID)
	}
	if len(ids) > 0 {
		prices, err := s.store.PricesFor(ctx, ids, skus)
		if err != nil {
			return Quote{}, fmt.Errorf("quote: %w", err)
		}
		for _, p := range prices {
			in.prices[p.SKU] = append(in.prices[p.SKU], p)
		}
	}
	return compute(req, in, priceTime, now, s.ttl)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
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
			if prev, ok, err := tx.Request(kindUpsertPriceList, req.RequestID); err != nil {
				return err
			} else if ok {
				if prev.PayloadHash != hash {
					return ErrIdempotencyKeyReused
				}
				l, err := tx.PriceList(req.List.ID)
				out = l
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
		saveReq := catalog.Request{Kind: kindUpsertPriceList, ID: req.RequestID, PayloadHash: hash}
		if exists && old.Etag == l.Etag {
			return tx.SaveRequest(saveReq)
		}
		l.UpdateTime = now
		out = l
		if err := tx.PutPriceList(l); err != nil {
			return err
		}
		pv, err := tx.BumpPriceVersion()
		if err != nil {
			return err
		}
		eff := now
		if l.StartTime.After(now) {
			eff = l.StartTime
		}
		if err := tx.AppendPricesChanged(PricesChanged{PriceVersion: pv, EffectiveTime: eff,
			RuleKinds: []RuleKind{RuleListPrice}, Rules: []string{l.Name()}, AllSKUs: true}); err != nil {
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
		return tx.SaveRequest(saveReq)
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
			if prev, ok, err := tx.Request(kindImportPrices, req.RequestID); err != nil {
				return err
			} else if ok {
				if prev.PayloadHash != hash {
					return ErrIdempotencyKeyReused
				}
				return json.Unmarshal(prev.Response, &res)
			}
		}
		list, err := tx.PriceList(req.PriceList)
		if err != nil {
			return err
		}
		skus := make([]string, 0, len(req.Rows))
		for _, r := range req.Rows {
			skus = append(skus, r.SKU)
		}
		existing, err := tx.Prices(list.ID, nil)
		if err != nil {
			return err
		}
		inCatalog, err := tx.DraftSKUs(skus)
		if err != nil {
			return err
		}
		var puts []Price
		seenSKU, seenRow := map[string]bool{}, map[int64]bool{}
		for _, r := range req.Rows {
			rr := catalog.RowResult{RowNumber: r.RowNumber, SKU: r.SKU}
			reject := func(reason catalog.RowReason, field, msg string) {
				rr.Outcome, rr.Reason, rr.Field, rr.Message = catalog.RowRejected, reason, field, msg
			}
			switch {
			case seenRow[r.RowNumber]:
				reject(catalog.ReasonRowInvalid, "row_number", "row number appears twice in the request")
			case !catalog.ValidSKU(r.SKU):
				reject(catalog.ReasonRowInvalid, "sku", "must be 1..64 letters, digits, '.', '_' or '-'")
			case seenSKU[r.SKU]:
				reject(catalog.ReasonRowInvalid, "sku", "SKU appears twice in the request")
			case r.Currency != list.Currency:
				reject(catalog.ReasonCurrencyMismatch, "unit_price.currency_code",
					fmt.Sprintf("price list %s is in %s, row is in %s", list.ID, list.Currency, r.Currency))
			case r.UnitMinor < 0:
				reject(catalog.ReasonRowInvalid, "unit_price.amount_minor", "amount must not be negative")
			case len(r.Breaks) > 20:
				reject(catalog.ReasonRowInvalid, "quantity_breaks", "at most 20 quantity breaks")
			case !inCatalog[r.SKU]:
				reject(catalog.ReasonProductNotFound, "sku", "SKU is not in the working catalog")
			}
			for i, c := range r.BreakCurrencies {
				if rr.Outcome == 0 && c != list.Currency {
					reject(catalog.ReasonCurrencyMismatch, fmt.Sprintf("quantity_breaks[%d].unit_price.currency_code", i),
						fmt.Sprintf("price list %s is in %s, break is in %s", list.ID, list.Currency, c))
				}
			}
			if i := ValidateBreaks(r.UnitMinor, r.Breaks); rr.Outcome == 0 && i >= 0 {
				reject(catalog.ReasonInvalidQuantityBreaks, fmt.Sprintf("quantity_breaks[%d]", i),
					"breaks must start at 2, strictly increase in min_quantity and not increase in price")
			}
			seenRow[r.RowNumber] = true
			if rr.Outcome == catalog.RowRejected {
				res.addRow(rr)
				continue
			}
			seenSKU[r.SKU] = true
			p := Price{PriceList: list.ID, SKU: r.SKU, UnitMinor: r.UnitMinor, Currency: list.Currency, Breaks: r.Breaks}
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
				puts = append(puts, p)
			}
			res.addRow(rr)
		}
		var deletes []string
		if req.Mode == catalog.ModeReplaceAll {
			for sku := range existing {
				if !seenSKU[sku] {
					deletes = append(deletes, sku)
				}
			}
			sort.Strings(deletes)
			if res.Rejected > 0 {
				puts, deletes = nil, nil
			}
		}
		res.Deleted = int64(len(deletes))
		if req.ValidateOnly {
			return nil
		}
		if len(puts) > 0 || len(deletes) > 0 {
			if err := tx.PutPrices(puts); err != nil {
				return err
			}
			if err := tx.DeletePrices(list.ID, deletes); err != nil {
				return err
			}
			oldCount := list.PriceCount
			if list.PriceCount, err = tx.CountPrices(list.ID); err != nil {
				return err
			}
			list.UpdateTime = now
			if err := tx.PutPriceList(list); err != nil {
				return err
			}
			pv, err := tx.BumpPriceVersion()
			if err != nil {
				return err
			}
			res.PriceVersion = pv
			ev := PricesChanged{PriceVersion: pv, EffectiveTime: now, RuleKinds: []RuleKind{RuleListPrice}, Rules: []string{list.Name()}}
			if list.StartTime.After(now) {
				ev.EffectiveTime = list.StartTime
			}
			for _, p := range puts {
				ev.SKUs = append(ev.SKUs, p.SKU)
				if len(p.Breaks) > 0 && !containsKind(ev.RuleKinds, RuleQuantityBreak) {
					ev.RuleKinds = append(ev.RuleKinds, RuleQuantityBreak)
				}
			}
			ev.SKUs = append(ev.SKUs, deletes...)
			sort.Strings(ev.SKUs)
			if len(ev.SKUs) > 1000 {
				ev.SKUs, ev.AllSKUs = nil, true
			}
			if err := tx.AppendPricesChanged(ev); err != nil {
				return err
			}
			if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.import_prices", Resource: list.Name(), Actor: req.Actor,
				Before: map[string]any{"price_version": pv - 1, "price_count": oldCount},
				After: map[string]any{"price_version": pv, "price_count": list.PriceCount, "request_id": req.RequestID, "source": req.Source,
					"created": res.Created, "updated": res.Updated, "deleted": res.Deleted, "rejected": res.Rejected}}); err != nil {
				return err
			}
		} else if res.PriceVersion, err = tx.PriceVersion(); err != nil {
			return err
		}
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		return tx.SaveRequest(catalog.Request{Kind: kindImportPrices, ID: req.RequestID, PayloadHash: hash, Response: b})
	})
	if err != nil {
		return ImportPricesResult{}, fmt.Errorf("import prices into %s: %w", req.PriceList, err)
	}
	s.eventsCommitted()
	return res, nil
}

func (r *ImportPricesResult) addRow(rr catalog.RowResult) {
	r.Results = append(r.Results, rr)
	switch rr.Outcome {
	case catalog.RowCreated:
		r.Created++
	case catalog.RowUpdated:
		r.Updated++
	case catalog.RowUnchanged:
		r.Unchanged++
	case catalog.RowRejected:
		r.Rejected++
	}
}

func containsKind(ks []RuleKind, k RuleKind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
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
		if prev, ok, err := tx.Request(kindDeletePriceList, req.RequestID); err != nil {
			return err
		} else if ok {
			if prev.PayloadHash != hash {
				return ErrIdempotencyKeyReused
			}
			return nil
		}
		saveReq := catalog.Request{Kind: kindDeletePriceList, ID: req.RequestID, PayloadHash: hash}
		l, err := tx.PriceList(req.ID)
		if errors.Is(err, ErrPriceListNotFound) && req.AllowMissing {
			return tx.SaveRequest(saveReq)
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
		pv, err := tx.BumpPriceVersion()
		if err != nil {
			return err
		}
		if err := tx.AppendPricesChanged(PricesChanged{PriceVersion: pv, EffectiveTime: now,
			RuleKinds: []RuleKind{RuleListPrice}, Rules: []string{l.Name()}, AllSKUs: true}); err != nil {
			return err
		}
		if err := tx.AppendAudit(catalog.AuditRecord{Action: "pricing.delete_price_list", Resource: l.Name(), Actor: req.Actor,
			Before: listSummary(l)}); err != nil {
			return err
		}
		return tx.SaveRequest(saveReq)
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
