package app

import (
	"cmp"
	"context"
	"log/slog"
	"slices"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"

	"github.com/transload/transload/gateway/internal/config"
	"github.com/transload/transload/gateway/internal/stockview"
)

// startStockFeed starts the stock projection's feed when configured
// (AVAILABILITY_STOCK_PROJECTION and NATS_URL); it returns nil view and
// feed otherwise, and CheckAvailability then reads stock live.
func startStockFeed(cfg config.Config, inv inventoryv1.InventoryServiceClient, logger *slog.Logger) (*stockview.View, *stockview.Feed, error) {
	if !cfg.AvailabilityStockProjection || cfg.NATSURL == "" {
		return nil, nil, nil
	}
	view := stockview.New(0)
	feed, err := stockview.Start(view, stockview.FeedOptions{
		URL: cfg.NATSURL, Name: cfg.ServiceName + "-stock",
		Warehouses: warehouseSource(inv),
		Refresh:    cfg.AvailabilityWarehousesRefresh,
		Logger:     logger,
	})
	if err != nil {
		return nil, nil, err
	}
	return view, feed, nil
}

// warehouseSource reads inventory's warehouse table (every page), in
// allocation priority order (priority, then code) as inventory counts
// them.
func warehouseSource(inv inventoryv1.InventoryServiceClient) stockview.WarehouseSource {
	return func(ctx context.Context) ([]stockview.Warehouse, error) {
		var all []*inventoryv1.Warehouse
		token := ""
		for {
			resp, err := inv.ListWarehouses(ctx, &inventoryv1.ListWarehousesRequest{PageSize: 500, PageToken: token})
			if err != nil {
				return nil, err
			}
			all = append(all, resp.GetWarehouses()...)
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		slices.SortStableFunc(all, func(a, b *inventoryv1.Warehouse) int {
			return cmp.Or(cmp.Compare(a.GetPriority(), b.GetPriority()), cmp.Compare(a.GetCode(), b.GetCode()))
		})
		out := make([]stockview.Warehouse, 0, len(all))
		for _, w := range all {
			out = append(out, stockview.Warehouse{Code: w.GetCode(), Active: w.GetActive(), Channels: slices.Clone(w.GetChannels())})
		}
		return out, nil
	}
}
