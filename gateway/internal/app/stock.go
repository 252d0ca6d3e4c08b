package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"

	"github.com/transload/transload/gateway/internal/config"
	"github.com/transload/transload/gateway/internal/stockview"
)

// startStockFeed starts the stock projection's feed when configured
// (AVAILABILITY_STOCK_PROJECTION and NATS_URL); it returns nil view and
// feed otherwise, and CheckAvailability then reads stock live.
func startStockFeed(cfg config.Config, inv inventoryv1.InventoryServiceClient, reg prometheus.Registerer, logger *slog.Logger) (*stockview.View, *stockview.Feed, error) {
	if !cfg.AvailabilityStockProjection || cfg.NATSURL == "" {
		return nil, nil, nil
	}
	view := stockview.New(0)
	if err := registerStockMetrics(reg, view); err != nil {
		return nil, nil, err
	}
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

// registerStockMetrics exports the projection's counters:
//
//	transload_gateway_stock_projection_events_total{outcome}  stock events applied, ignored (duplicate, late, untracked) or gap (level dropped)
//	transload_gateway_stock_projection_seeds_total            SKUs seeded from live inventory answers
func registerStockMetrics(reg prometheus.Registerer, view *stockview.View) error {
	if reg == nil {
		return nil
	}
	events := func(outcome string, f func(stockview.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "transload_gateway_stock_projection_events_total",
			Help:        "Stock events the availability projection applied, ignored (duplicate, late or untracked level) or found after a gap (level dropped, read live again).",
			ConstLabels: prometheus.Labels{"outcome": outcome},
		}, func() float64 { return float64(f(view.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		events("applied", func(s stockview.Stats) int64 { return s.Applied }),
		events("ignored", func(s stockview.Stats) int64 { return s.Ignored }),
		events("gap", func(s stockview.Stats) int64 { return s.Gaps }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "transload_gateway_stock_projection_seeds_total",
			Help: "SKUs the availability projection seeded from live inventory answers.",
		}, func() float64 { return float64(view.Stats().Seeded) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("stock projection metrics: %w", err)
		}
	}
	return nil
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
