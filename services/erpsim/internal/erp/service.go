package erp

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Rejector injects business rejections into new sales orders (the
// simulator's "rejectNext" fault).
type Rejector interface {
	// TakeRejection decides whether a new sales order of customer gets
	// an injected rejection (consuming it when it is a one-off).
	TakeRejection(customer string) (RejectionReason, bool)
	// ReturnRejection gives back a rejection taken for an order of
	// customer that was not recorded after all.
	ReturnRejection(customer string)
}

type noRejections struct{}

func (noRejections) TakeRejection(string) (RejectionReason, bool) { return RejectNone, false }
func (noRejections) ReturnRejection(string)                       {}

// Service is the simulated ERP's use cases.
type Service struct {
	store     Store
	now       func() time.Time
	rejector  Rejector
	snapshots snapshotCache
	feed      feedSignal
	priceFeed feedSignal

	// journalRejector injects posting faults (journal_faults.go); nil
	// injects none.
	journalRejector JournalRejector
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithRejector installs the rejection injector (default none).
func WithRejector(r Rejector) Option { return func(s *Service) { s.rejector = r } }

// NewService returns a Service over store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, now: time.Now, rejector: noRejections{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clock is the current time at the stores' resolution (microseconds), so
// what a call returns equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// SeedDemo loads the demo data unless the store was seeded before; it
// reports whether it seeded now.
func (s *Service) SeedDemo(ctx context.Context) (bool, error) {
	return s.store.Seed(ctx, DemoSeed(), s.clock())
}

// Customer returns a customer.
func (s *Service) Customer(ctx context.Context, id string) (Customer, error) {
	return s.store.Customer(ctx, id)
}

// Customers lists up to limit customers updated at or after minUpdate,
// after the cursor, for incremental sync.
func (s *Service) Customers(ctx context.Context, minUpdate time.Time, after CustomerCursor, limit int) ([]Customer, error) {
	return s.store.Customers(ctx, minUpdate, after, limit)
}

// CreditDecision is the answer of CheckCredit.
type CreditDecision struct {
	Approved  bool
	Reason    CreditReason
	Available int64
	HasLimit  bool
	Currency  string
	CheckTime time.Time
}

// CreditReason explains a credit decision (see erp.v1 CreditDecisionReason).
type CreditReason int

// Credit decision reasons.
const (
	CreditWithinLimit CreditReason = iota + 1
	CreditNoLimit
	CreditLimitExceeded
	CreditHold
	CreditAccountBlocked
	CreditAccountClosed
	CreditPrepaymentRequired
	CreditCurrencyNotSupported
)

// CheckCredit decides whether the customer's credit covers amount.
func (s *Service) CheckCredit(ctx context.Context, customerID string, amount Money) (CreditDecision, error) {
	c, err := s.store.Customer(ctx, customerID)
	if err != nil {
		return CreditDecision{}, err
	}
	avail, hasLimit := c.AvailableCredit()
	d := CreditDecision{Available: avail, HasLimit: hasLimit, Currency: c.Currency, CheckTime: s.clock()}
	switch {
	case c.State == AccountCreditHold:
		d.Reason = CreditHold
	case c.State == AccountBlocked:
		d.Reason = CreditAccountBlocked
	case c.State == AccountClosed:
		d.Reason = CreditAccountClosed
	case c.PrepaymentRequired:
		d.Reason = CreditPrepaymentRequired
	case amount.Currency != c.Currency:
		d.Reason = CreditCurrencyNotSupported
	case !hasLimit:
		d.Approved, d.Reason = true, CreditNoLimit
	case amount.Minor <= avail:
		d.Approved, d.Reason = true, CreditWithinLimit
	default:
		d.Reason = CreditLimitExceeded
	}
	return d, nil
}

// SubmitSalesOrder creates the sales order for order.OrderID, idempotently:
// a known order id returns the stored order with duplicate = true.
func (s *Service) SubmitSalesOrder(ctx context.Context, order SalesOrder) (SalesOrder, bool, error) {
	var (
		injected  RejectionReason
		hasInject bool
		taken     bool
	)
	decide := func(in DecisionInput) Decision {
		// The transaction may run more than once; take an injected
		// rejection at most once per call.
		if !taken {
			taken = true
			injected, hasInject = s.rejector.TakeRejection(order.CustomerID)
		}
		if hasInject {
			return Decision{Reason: injected, Message: fmt.Sprintf("simulated rejection (fault injection): %s", injected)}
		}
		return decideOrder(order, in)
	}
	got, dup, err := s.store.SubmitSalesOrder(ctx, order, s.clock(), decide)
	if hasInject && (err != nil || dup) {
		// Not used on a recorded new order: keep it for the next one.
		s.rejector.ReturnRejection(order.CustomerID)
	}
	return got, dup, err
}

// decideOrder applies the ERP's business rules to a new order.
func decideOrder(o SalesOrder, in DecisionInput) Decision {
	c := in.Customer
	switch {
	case c == nil:
		return Decision{Reason: RejectUnknownCustomer, Message: fmt.Sprintf("customer %s does not exist", o.CustomerID)}
	case c.State == AccountBlocked || c.State == AccountClosed:
		return Decision{Reason: RejectUnknownCustomer, Message: fmt.Sprintf("customer %s is %s", c.ID, c.State)}
	case c.State == AccountCreditHold:
		return Decision{Reason: RejectCreditHold, Message: fmt.Sprintf("customer %s is on credit hold", c.ID)}
	case !c.AllowsChannel(o.Channel):
		return Decision{Reason: RejectOther, Message: fmt.Sprintf("customer %s may not order through channel %q", c.ID, o.Channel)}
	case o.Currency != c.Currency:
		return Decision{Reason: RejectOther, Message: fmt.Sprintf("currency %s is not supported for customer %s (invoiced in %s)", o.Currency, c.ID, c.Currency)}
	}
	for _, l := range o.Lines {
		p, ok := in.Products[l.SKU]
		if !ok {
			return Decision{Reason: RejectUnknownSKU, Message: fmt.Sprintf("line %s: SKU %s does not exist", l.LineID, l.SKU)}
		}
		if p.SalesState == SalesInactive {
			return Decision{Reason: RejectBlockedItem, Message: fmt.Sprintf("line %s: SKU %s is blocked for sale", l.LineID, l.SKU)}
		}
		if len(p.Channels) > 0 && !slices.Contains(p.Channels, o.Channel) {
			return Decision{Reason: RejectBlockedItem, Message: fmt.Sprintf("line %s: SKU %s is not sold through channel %q", l.LineID, l.SKU, o.Channel)}
		}
	}
	if avail, ok := c.AvailableCredit(); ok && o.GrandTotalMinor > avail {
		return Decision{Reason: RejectCreditLimit, Message: fmt.Sprintf("order total %d exceeds available credit %d (%s minor units)", o.GrandTotalMinor, avail, c.Currency)}
	}
	if c.PrepaymentRequired {
		return Decision{Reason: RejectOther, Message: fmt.Sprintf("customer %s must prepay", c.ID)}
	}
	return Decision{Accepted: true}
}

// SalesOrder returns the sales order of an order id.
func (s *Service) SalesOrder(ctx context.Context, orderID string) (SalesOrder, error) {
	return s.store.SalesOrder(ctx, orderID)
}

// CancelSalesOrder cancels the sales order of an order id.
func (s *Service) CancelSalesOrder(ctx context.Context, orderID, reason string) (SalesOrder, error) {
	return s.store.CancelSalesOrder(ctx, orderID, reason, s.clock())
}

// SalesOrders lists all sales orders (for the control API).
func (s *Service) SalesOrders(ctx context.Context) ([]SalesOrder, error) {
	return s.store.SalesOrders(ctx)
}

// Warehouses lists the warehouses by priority, then code.
func (s *Service) Warehouses(ctx context.Context) ([]Warehouse, error) {
	return s.store.Warehouses(ctx)
}

// Warehouse returns one warehouse.
func (s *Service) Warehouse(ctx context.Context, code string) (Warehouse, error) {
	whs, err := s.store.Warehouses(ctx)
	if err != nil {
		return Warehouse{}, err
	}
	for _, w := range whs {
		if w.Code == code {
			return w, nil
		}
	}
	return Warehouse{}, &NotFoundError{Kind: ErrWarehouseNotFound, ID: code}
}

// StockEvents reads the stock feed after position after.
func (s *Service) StockEvents(ctx context.Context, after int64, limit int) ([]StockEvent, int64, error) {
	return s.store.StockEvents(ctx, after, limit)
}

// RecordStockEvent applies a stock movement (the simulator's way to make
// the ERP's stock change) after checking the movement rules, and once it
// is committed wakes the feed's watchers (StockFeedChanged).
func (s *Service) RecordStockEvent(ctx context.Context, ev StockEvent) (StockEvent, error) {
	switch ev.Kind {
	case StockReceipt, StockTransferIn:
		if ev.Quantity <= 0 {
			return StockEvent{}, fmt.Errorf("%w: quantity must be > 0", ErrInvalidStockEvent)
		}
	case StockTransferOut, StockShipment:
		if ev.Quantity >= 0 {
			return StockEvent{}, fmt.Errorf("%w: quantity must be < 0", ErrInvalidStockEvent)
		}
	case StockAdjustment:
		if ev.Quantity == 0 {
			return StockEvent{}, fmt.Errorf("%w: quantity must not be 0", ErrInvalidStockEvent)
		}
	case StockSetOnHand:
		if ev.Quantity < 0 {
			return StockEvent{}, fmt.Errorf("%w: quantity must be >= 0", ErrInvalidStockEvent)
		}
	default:
		return StockEvent{}, fmt.Errorf("%w: unknown kind", ErrInvalidStockEvent)
	}
	if ev.OccurTime.IsZero() {
		ev.OccurTime = s.clock()
	}
	ev.OccurTime = ev.OccurTime.UTC().Truncate(time.Microsecond)
	rec, err := s.store.RecordStockEvent(ctx, ev)
	if err == nil {
		// Committed: wake the WatchStockEvents streams.
		s.feed.broadcast()
	}
	return rec, err
}

// Products returns the catalogue export content.
func (s *Service) Products(ctx context.Context, minUpdate time.Time, channel string) ([]Product, error) {
	return s.store.Products(ctx, minUpdate, channel)
}

// PriceExport is the content of a price export.
type PriceExport struct {
	PriceLists []PriceList
	ListPrices []ListPrice
}

// Prices returns the price lists (all, or the given ids) and their list
// prices. The demo ERP has no contracts, promotions or channel rules.
func (s *Service) Prices(ctx context.Context, priceListIDs []string) (PriceExport, error) {
	pls, err := s.store.PriceLists(ctx, priceListIDs)
	if err != nil {
		return PriceExport{}, err
	}
	ids := make([]string, len(pls))
	for i, pl := range pls {
		ids[i] = pl.ID
	}
	lps, err := s.store.ListPrices(ctx, ids)
	if err != nil {
		return PriceExport{}, err
	}
	return PriceExport{PriceLists: pls, ListPrices: lps}, nil
}

// JournalBatch returns a posted journal batch.
func (s *Service) JournalBatch(ctx context.Context, batchID string) (JournalBatch, error) {
	return s.store.JournalBatch(ctx, batchID)
}
