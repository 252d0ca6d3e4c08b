package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// Inventory commits reservations. Errors are the domain's dependency
// errors (see package depcall).
type Inventory interface {
	CommitReservation(ctx context.Context, req *inventoryv1.CommitReservationRequest) error
}

// Orders records shipment progress on orders. Errors are the domain's
// dependency errors (see package depcall).
type Orders interface {
	RecordShipmentProgress(ctx context.Context, req *orderv1.RecordShipmentProgressRequest) error
}

// EffectRunnerConfig configures an EffectRunner.
type EffectRunnerConfig struct {
	// Interval is the pause between rounds when nothing wakes the runner.
	Interval time.Duration
	// Backoff spaces the attempts of one effect.
	Backoff Backoff
	// BatchSize bounds the effects one round reads (default 100).
	BatchSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// EffectRunner executes the queued side effects.
type EffectRunner struct {
	store     *sqlstore.Store
	inventory Inventory
	orders    Orders
	cfg       EffectRunnerConfig
	wake      chan struct{}
}

// NewEffectRunner returns a runner; run it with Run.
func NewEffectRunner(store *sqlstore.Store, inventory Inventory, orders Orders, cfg EffectRunnerConfig) *EffectRunner {
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &EffectRunner{store: store, inventory: inventory, orders: orders, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Notify wakes the runner for an early round. It never blocks.
func (r *EffectRunner) Notify() { notify(r.wake) }

// Run executes effects until ctx ends.
func (r *EffectRunner) Run(ctx context.Context) {
	loop(ctx, r.cfg.Logger, "side effect runner", r.cfg.Interval, r.wake, r.RunOnce)
}

// RunOnce executes the due effects once each. Effects of one order and
// kind run in the order they were queued: while one waits for a retry,
// the later ones wait too (so the order service sees SHIPPED before
// DELIVERED), but other orders and kinds go ahead.
func (r *EffectRunner) RunOnce(ctx context.Context) (more bool, err error) {
	effs, err := r.store.PendingEffects(ctx, r.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	type lane struct {
		kind  fulfillment.EffectKind
		order string
	}
	blocked := map[lane]bool{}
	progressed := false
	for _, e := range effs {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		l := lane{e.Kind, e.OrderID}
		if blocked[l] {
			continue
		}
		now := r.cfg.Now()
		if e.NextAttemptAt.After(now) {
			blocked[l] = true
			continue
		}
		callErr := r.execute(ctx, e)
		log := r.cfg.Logger.With(slog.String("effect", string(e.Kind)), slog.String("key", e.Key),
			slog.String("order_id", e.OrderID), slog.Int("attempt", e.Attempts+1))
		var rejected *fulfillment.DependencyRejectedError
		switch {
		case callErr == nil:
			err = r.store.FinishEffect(ctx, e.ID, "", r.cfg.Now())
			progressed = true
		case errors.As(callErr, &rejected):
			log.ErrorContext(ctx, "side effect refused; parked for operators", slog.Any("error", callErr))
			err = r.store.FinishEffect(ctx, e.ID, callErr.Error(), r.cfg.Now())
			progressed = true
		default:
			blocked[l] = true
			log.WarnContext(ctx, "side effect failed; will retry", slog.Any("error", callErr))
			err = r.store.RetryEffect(ctx, e.ID, callErr.Error(), now.Add(r.cfg.Backoff.After(e.Attempts+1)))
		}
		if err != nil {
			return false, err
		}
	}
	return progressed && len(effs) == r.cfg.BatchSize, nil
}

func (r *EffectRunner) execute(ctx context.Context, e fulfillment.Effect) error {
	switch e.Kind {
	case fulfillment.EffectCommitReservation:
		var req inventoryv1.CommitReservationRequest
		if err := proto.Unmarshal(e.Payload, &req); err != nil {
			return &fulfillment.DependencyRejectedError{Dependency: "inventory", Message: "undecodable payload: " + err.Error()}
		}
		return r.inventory.CommitReservation(ctx, &req)
	case fulfillment.EffectRecordShipmentProgress:
		var req orderv1.RecordShipmentProgressRequest
		if err := proto.Unmarshal(e.Payload, &req); err != nil {
			return &fulfillment.DependencyRejectedError{Dependency: "order", Message: "undecodable payload: " + err.Error()}
		}
		return r.orders.RecordShipmentProgress(ctx, &req)
	default:
		return &fulfillment.DependencyRejectedError{Dependency: string(e.Kind), Message: fmt.Sprintf("unknown effect kind %q", e.Kind)}
	}
}
