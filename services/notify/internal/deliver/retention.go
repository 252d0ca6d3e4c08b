package deliver

import (
	"context"
	"log/slog"
	"time"

	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

// Retention prunes the delivery log: finished deliveries (delivered or
// failed) older than Keep are deleted with their attempts, PruneBatch at a
// time (one short transaction each, so the consumers and the workers are
// never held up for long), every Interval. Pending deliveries are kept
// whatever their age.
type Retention struct {
	Store *sqlstore.Store
	// Keep is how long a finished delivery stays in the log
	// (NOTIFY_DELIVERY_LOG_RETENTION, default 30 days).
	Keep time.Duration
	// Interval between passes (default 10 minutes) and PruneBatch, the
	// deliveries deleted per transaction (default 200).
	Interval   time.Duration
	PruneBatch int
	Now        func() time.Time
	Logger     *slog.Logger
}

// Pass deletes every finished delivery older than Keep, in batches, and
// returns how many it deleted.
func (r *Retention) Pass(ctx context.Context) (int, error) {
	now, batch := time.Now, r.PruneBatch
	if r.Now != nil {
		now = r.Now
	}
	if batch <= 0 {
		batch = 200
	}
	total := 0
	for ctx.Err() == nil {
		n, err := r.Store.PruneDeliveries(ctx, now().Add(-r.Keep), batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
	return total, ctx.Err()
}

// Run makes a pass at start and then every Interval until ctx ends.
func (r *Retention) Run(ctx context.Context) {
	interval, log := r.Interval, r.Logger
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "notify: delivery log retention", slog.Any("error", err))
		} else if n > 0 {
			log.InfoContext(ctx, "notify: delivery log pruned", slog.Int("deliveries", n), slog.Duration("older_than", r.Keep))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
