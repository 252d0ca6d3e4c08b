// Package stockgen makes the simulated ERP's stock move on its own, so
// demos show stock events flowing into Transload without anyone calling the
// control API: goods receipts and small damage write-offs on random SKUs.
// It never touches erp.ScarceSKU, whose 10 units the oversell test relies
// on.
package stockgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

// Recorder records a stock movement (erp.Service does).
type Recorder interface {
	RecordStockEvent(ctx context.Context, ev erp.StockEvent) (erp.StockEvent, error)
}

// Generator produces pseudo-random stock movements from a fixed seed.
type Generator struct {
	rec    Recorder
	rng    *rand.Rand
	logger *slog.Logger
}

// New returns a Generator; the same seed yields the same movements.
func New(rec Recorder, seed uint64, logger *slog.Logger) *Generator {
	return &Generator{rec: rec, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), logger: logger}
}

// Step records one movement: a receipt of 1..50 units (70%) or a write-off
// of 1..5 damaged units (30%, a receipt instead when the stock is too low).
func (g *Generator) Step(ctx context.Context) (erp.StockEvent, error) {
	n := 1 + g.rng.IntN(erp.DemoSKUs-1) // SKU-00001..SKU-00499: never the scarce SKU
	ev := erp.StockEvent{
		SKU:           erp.SKU(n),
		WarehouseCode: erp.DemoWarehouses[g.rng.IntN(len(erp.DemoWarehouses))],
		Kind:          erp.StockReceipt,
		Quantity:      int64(1 + g.rng.IntN(50)),
	}
	if g.rng.IntN(10) < 3 {
		adj := ev
		adj.Kind, adj.Quantity, adj.ReasonCode = erp.StockAdjustment, -int64(1+g.rng.IntN(5)), "DAMAGED"
		got, err := g.rec.RecordStockEvent(ctx, adj)
		if !errors.Is(err, erp.ErrInvalidStockEvent) {
			return got, err
		}
	}
	return g.rec.RecordStockEvent(ctx, ev)
}

// Run records one movement every interval until ctx ends. Failures are
// logged and the next tick tries again.
func (g *Generator) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("stockgen: interval must be positive, got %s", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		stepCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ev, err := g.Step(stepCtx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				g.logger.WarnContext(ctx, "stockgen: record stock event", slog.Any("error", err))
			}
			continue
		}
		g.logger.DebugContext(ctx, "stockgen: stock event", slog.String("event_id", ev.EventID),
			slog.String("sku", ev.SKU), slog.String("warehouse", ev.WarehouseCode), slog.Int64("quantity", ev.Quantity))
	}
}
