package erp

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidPriceChange: a price change that names an unknown price list
// or SKU, or a negative price.
var ErrInvalidPriceChange = errors.New("invalid price change")

// PriceEvent is one entry of the price change feed: the list price as it
// is from OccurTime on. Seq numbers the feed 1, 2, 3, ... without gaps and
// is the event's source_sequence in erp.v1.
type PriceEvent struct {
	Seq       int64
	EventID   string
	Price     ListPrice
	Currency  string // the price list's
	OccurTime time.Time
}

// PriceStore is the store side of the price change feed.
type PriceStore interface {
	// PriceEvents returns up to limit events with Seq > after, by Seq, and
	// the highest Seq in the feed.
	PriceEvents(ctx context.Context, after int64, limit int) ([]PriceEvent, int64, error)
	// RecordPriceChanges sets the list prices and appends one event per
	// price, all or nothing; ErrInvalidPriceChange for an unknown price
	// list or SKU.
	RecordPriceChanges(ctx context.Context, prices []ListPrice, now time.Time) ([]PriceEvent, error)
}

// maxPriceChanges bounds one RecordPriceChanges call.
const maxPriceChanges = 1000

// PriceEvents reads the price feed after position after.
func (s *Service) PriceEvents(ctx context.Context, after int64, limit int) ([]PriceEvent, int64, error) {
	return s.store.PriceEvents(ctx, after, limit)
}

// RecordPriceChanges changes list prices in the ERP (the simulator's way
// to make a price change happen) and, once committed, wakes the price
// feed's watchers (PriceFeedChanged).
func (s *Service) RecordPriceChanges(ctx context.Context, prices []ListPrice) ([]PriceEvent, error) {
	if len(prices) == 0 || len(prices) > maxPriceChanges {
		return nil, fmt.Errorf("%w: between 1 and %d prices", ErrInvalidPriceChange, maxPriceChanges)
	}
	seen := make(map[[3]string]bool, len(prices))
	for i, p := range prices {
		if p.PriceListID == "" || p.SKU == "" {
			return nil, fmt.Errorf("%w: price %d: priceListId and sku are required", ErrInvalidPriceChange, i)
		}
		if p.UnitPriceMinor < 0 {
			return nil, fmt.Errorf("%w: price %d: unitPriceMinor must be >= 0", ErrInvalidPriceChange, i)
		}
		k := [3]string{p.PriceListID, p.SKU, p.UoM}
		if seen[k] {
			return nil, fmt.Errorf("%w: price %d: %s/%s listed twice", ErrInvalidPriceChange, i, p.PriceListID, p.SKU)
		}
		seen[k] = true
	}
	evs, err := s.store.RecordPriceChanges(ctx, prices, s.clock())
	if err == nil {
		s.priceFeed.broadcast()
	}
	return evs, err
}

// PriceFeedChanged returns a channel that is closed once a price event is
// committed after the call (see StockFeedChanged).
func (s *Service) PriceFeedChanged() <-chan struct{} { return s.priceFeed.wait() }
