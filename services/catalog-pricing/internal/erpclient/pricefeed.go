package erpclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
)

var _ erpsync.PriceFeed = (*Client)(nil)

// PriceChanges reads the ERP's price change feed (ListPriceEvents) from
// cursor; erpsync.ErrNoFeed when the adapter does not implement it.
func (c *Client) PriceChanges(ctx context.Context, cursor string, limit int) ([]erpsync.PriceChange, string, bool, error) {
	resp, err := c.erp.ListPriceEvents(ctx, &erpv1.ListPriceEventsRequest{Cursor: cursor, PageSize: int32(min(limit, 1000))}) // at most 1000
	if status.Code(err) == codes.Unimplemented {
		return nil, "", false, fmt.Errorf("list price events: %w", erpsync.ErrNoFeed)
	}
	if cursorGone(err) {
		return nil, "", false, fmt.Errorf("list price events: %w: %w", erpsync.ErrCursorGone, err)
	}
	if err != nil {
		return nil, "", false, mapErr(ctx, "list price events", err)
	}
	return priceChanges(resp.GetPriceEvents()), resp.GetNextCursor(), resp.GetHasMore(), nil
}

// priceChanges converts feed events to the pricing domain's terms: list
// prices, and contracts as the full export maps them (rules.go).
func priceChanges(evs []*erpv1.PriceEvent) []erpsync.PriceChange {
	out := make([]erpsync.PriceChange, 0, len(evs))
	for _, ev := range evs {
		if c := ev.GetContract(); c != nil {
			ch := erpsync.PriceChange{Seq: ev.GetSourceSequence(), EventID: ev.GetEventId()}
			if k, ok := contract(c); ok {
				ch.Contract = &k
			} else {
				ch.Skipped = true
			}
			out = append(out, ch)
			continue
		}
		lp := ev.GetListPrice()
		out = append(out, erpsync.PriceChange{
			Seq: ev.GetSourceSequence(), EventID: ev.GetEventId(), ERPList: lp.GetPriceListId(), Row: priceRow(1, lp),
			// An event of a kind this client does not know carries neither.
			Skipped: lp == nil || lp.GetChannel() != "" || lp.GetEffectiveStartTime() != nil || lp.GetEffectiveEndTime() != nil,
		})
	}
	return out
}

// cursorGone reports whether the ERP refused the feed cursor: malformed or
// not its own (INVALID_CURSOR, also a position beyond its feed head) or
// older than its retention (CURSOR_EXPIRED).
func cursorGone(err error) bool {
	switch apierr.ReasonOf(err) {
	case erpv1.ErrorReason_ERROR_REASON_INVALID_CURSOR.String(), erpv1.ErrorReason_ERROR_REASON_CURSOR_EXPIRED.String():
		return true
	}
	return false
}

var _ erpsync.PriceWatcher = (*Client)(nil)

// WatchPriceChanges streams the ERP's price change feed
// (WatchPriceEvents) from cursor to fn; erpsync.ErrNoFeed when the adapter
// does not push. The caller's ctx bounds the stream's lifetime.
func (c *Client) WatchPriceChanges(ctx context.Context, cursor string, fn func([]erpsync.PriceChange, string) error) error {
	stream, err := c.erp.WatchPriceEvents(ctx, &erpv1.WatchPriceEventsRequest{Cursor: cursor})
	for err == nil {
		var msg *erpv1.WatchPriceEventsResponse
		if msg, err = stream.Recv(); err != nil {
			break
		}
		if err := fn(priceChanges(msg.GetPriceEvents()), msg.GetNextCursor()); err != nil {
			return err
		}
	}
	if status.Code(err) == codes.Unimplemented {
		return fmt.Errorf("watch price events: %w", erpsync.ErrNoFeed)
	}
	if cursorGone(err) {
		return fmt.Errorf("watch price events: %w: %w", erpsync.ErrCursorGone, err)
	}
	return mapErr(ctx, "watch price events", err)
}
