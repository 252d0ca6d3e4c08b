package erpclient

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/catalog-pricing/internal/erpsync"
)

var _ erpsync.PriceFeed = (*Client)(nil)

// PriceChanges reads the ERP's price change feed (ListPriceEvents) from
// cursor; erpsync.ErrNoFeed when the adapter does not implement it.
func (c *Client) PriceChanges(ctx context.Context, cursor string, limit int) ([]erpsync.PriceChange, string, bool, error) {
	resp, err := c.erp.ListPriceEvents(ctx, &erpv1.ListPriceEventsRequest{Cursor: cursor, PageSize: int32(min(limit, 1000))}) //nolint:gosec // bounded above
	if status.Code(err) == codes.Unimplemented {
		return nil, "", false, fmt.Errorf("list price events: %w", erpsync.ErrNoFeed)
	}
	if err != nil {
		return nil, "", false, mapErr(ctx, "list price events", err)
	}
	out := make([]erpsync.PriceChange, 0, len(resp.GetPriceEvents()))
	for _, ev := range resp.GetPriceEvents() {
		lp := ev.GetListPrice()
		out = append(out, erpsync.PriceChange{
			Seq: ev.GetSourceSequence(), EventID: ev.GetEventId(), ERPList: lp.GetPriceListId(), Row: priceRow(1, lp),
			Skipped: lp.GetChannel() != "" || lp.GetEffectiveStartTime() != nil || lp.GetEffectiveEndTime() != nil,
		})
	}
	return out, resp.GetNextCursor(), resp.GetHasMore(), nil
}
