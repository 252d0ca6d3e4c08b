package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// ERP is what the initial load needs from the ERP adapter. Implementations
// bound every call with a deadline and return errors wrapping
// ErrDependencyUnavailable when the ERP cannot answer.
type ERP interface {
	// ListWarehouses returns every warehouse of the ERP.
	ListWarehouses(ctx context.Context) ([]Warehouse, error)
	// StockSnapshot reads a complete, verified stock snapshot.
	StockSnapshot(ctx context.Context) (Snapshot, error)
}

// Loader performs the initial load: when the store has no warehouses it
// reads warehouses and a stock snapshot from the ERP and stores them in
// one transaction, retrying with capped exponential backoff while the ERP
// is unavailable. The service is marked loaded afterwards.
type Loader struct {
	store  Store
	erp    ERP
	svc    *Service
	minGap time.Duration
	maxGap time.Duration
	logger *slog.Logger
}

// NewLoader returns a loader; minGap and maxGap bound the pause between
// attempts.
func NewLoader(store Store, erp ERP, svc *Service, minGap, maxGap time.Duration, logger *slog.Logger) *Loader {
	return &Loader{store: store, erp: erp, svc: svc, minGap: minGap, maxGap: maxGap, logger: logger}
}

// CheckExisting marks the service loaded when the store already holds
// data (a restart) and reports whether it did.
func (l *Loader) CheckExisting(ctx context.Context) (bool, error) {
	has, err := l.store.HasWarehouses(ctx)
	if err != nil {
		return false, fmt.Errorf("check for loaded warehouses: %w", err)
	}
	if has {
		l.svc.MarkLoaded()
	}
	return has, nil
}

// Run loads until it succeeds or ctx ends; it returns nil once the
// service is loaded, else ctx's error.
func (l *Loader) Run(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := l.loadOnce(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pause := l.backoff(attempt)
		l.logger.WarnContext(ctx, "inventory: initial load failed; retrying",
			slog.Int("attempt", attempt), slog.Duration("pause", pause), slog.Any("error", err))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (l *Loader) loadOnce(ctx context.Context) error {
	if has, err := l.CheckExisting(ctx); err != nil || has {
		return err
	}
	ws, err := l.erp.ListWarehouses(ctx)
	if err != nil {
		return fmt.Errorf("list ERP warehouses: %w", err)
	}
	if len(ws) == 0 {
		return fmt.Errorf("list ERP warehouses: the ERP returned none: %w", ErrDependencyUnavailable)
	}
	snap, err := l.erp.StockSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("read ERP stock snapshot: %w", err)
	}
	codes := map[string]bool{}
	for _, w := range ws {
		codes[w.Code] = true
	}
	rows := snap.Rows[:0:0]
	for _, r := range snap.Rows {
		if !codes[r.WarehouseCode] {
			l.logger.WarnContext(ctx, "inventory: snapshot row for an unknown warehouse skipped",
				slog.String("sku", r.SKU), slog.String("warehouse_code", r.WarehouseCode))
			continue
		}
		rows = append(rows, r)
	}
	snap.Rows = rows
	loaded, err := l.store.LoadInitial(ctx, ws, snap, l.svc.now().UTC())
	if err != nil {
		return fmt.Errorf("store initial load: %w", err)
	}
	l.svc.MarkLoaded()
	if loaded {
		l.svc.onChange()
		l.logger.InfoContext(ctx, "inventory: initial load done",
			slog.Int("warehouses", len(ws)), slog.Int("stock_levels", len(snap.Rows)), slog.String("snapshot_id", snap.ID))
	}
	return nil
}

// backoff is minGap doubling per attempt up to maxGap, with jitter in
// [d/2, d].
func (l *Loader) backoff(attempt int) time.Duration {
	d := l.minGap
	for i := 1; i < attempt && d < l.maxGap; i++ {
		d *= 2
	}
	d = min(d, l.maxGap)
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return time.Duration(half + rand.Int64N(half+1))
}
