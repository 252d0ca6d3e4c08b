package erp

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidPriceChange: a price change that names an unknown price list,
// SKU or customer, or a negative price (*InvalidPriceChangeError names
// the field).
var ErrInvalidPriceChange = errors.New("invalid price change")

// PriceEvent is one entry of the price change feed: the list price, or
// (Contract set) the customer contract, as it is from OccurTime on. Seq
// numbers the feed 1, 2, 3, ... without gaps and is the event's
// source_sequence in erp.v1.
type PriceEvent struct {
	Seq      int64
	EventID  string
	Price    ListPrice // zero for a contract change
	Currency string    // the price list's ("" for a contract change)
	// Contract is the whole contract after a contract change, nil for a
	// list price change.
	Contract  *Contract
	OccurTime time.Time
}

// PriceChanges is one all-or-nothing change of the ERP's prices: list
// prices to set and customer contracts to create or replace as a whole.
type PriceChanges struct {
	ListPrices []ListPrice
	Contracts  []Contract
}

// PriceStore is the store side of the price change feed.
type PriceStore interface {
	// PriceEvents returns up to limit events with Seq > after, by Seq, and
	// the highest Seq in the feed.
	PriceEvents(ctx context.Context, after int64, limit int) ([]PriceEvent, int64, error)
	// RecordPriceChanges sets the list prices, creates or replaces the
	// contracts and appends one event per list price and per contract (list
	// prices first, each in request order), all or nothing;
	// *InvalidPriceChangeError for an unknown price list, SKU or customer.
	RecordPriceChanges(ctx context.Context, ch PriceChanges, now time.Time) ([]PriceEvent, error)
	// Contracts returns every customer contract, by id.
	Contracts(ctx context.Context) ([]Contract, error)
}

// maxPriceChanges bounds one RecordPriceChanges call (list prices and
// contracts together).
const maxPriceChanges = 1000

// PriceEvents reads the price feed after position after.
func (s *Service) PriceEvents(ctx context.Context, after int64, limit int) ([]PriceEvent, int64, error) {
	return s.store.PriceEvents(ctx, after, limit)
}

// RecordPriceChanges changes list prices and customer contracts in the
// ERP (the simulator's way to make a price change happen) and, once
// committed, wakes the price feed's watchers (PriceFeedChanged). Bad input
// is an *InvalidPriceChangeError naming the field; nothing is changed then.
func (s *Service) RecordPriceChanges(ctx context.Context, ch PriceChanges) ([]PriceEvent, error) {
	if n := len(ch.ListPrices) + len(ch.Contracts); n == 0 || n > maxPriceChanges {
		return nil, invalidChange("listPrices", "between 1 and %d list prices and contracts in total", maxPriceChanges)
	}
	seen := make(map[[3]string]bool, len(ch.ListPrices))
	for i, p := range ch.ListPrices {
		f := fmt.Sprintf("listPrices[%d]", i)
		if p.PriceListID == "" {
			return nil, invalidChange(f+".priceListId", "is required")
		}
		if p.SKU == "" {
			return nil, invalidChange(f+".sku", "is required")
		}
		if p.UnitPriceMinor < 0 {
			return nil, invalidChange(f+".unitPriceMinor", "must be >= 0")
		}
		k := [3]string{p.PriceListID, p.SKU, p.UoM}
		if seen[k] {
			return nil, invalidChange(f, "%s/%s listed twice", p.PriceListID, p.SKU)
		}
		seen[k] = true
	}
	ids := map[string]bool{}
	for i, c := range ch.Contracts {
		if err := validateContract(i, c, ids); err != nil {
			return nil, err
		}
	}
	evs, err := s.store.RecordPriceChanges(ctx, ch, s.clock())
	if err == nil {
		s.priceFeed.broadcast()
	}
	return evs, err
}

// PriceFeedChanged returns a channel that is closed once a price event is
// committed after the call (see StockFeedChanged).
func (s *Service) PriceFeedChanged() <-chan struct{} { return s.priceFeed.wait() }
