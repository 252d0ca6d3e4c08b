package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// EffectRunnerConfig configures an EffectRunner. Schedule.BatchSize
// bounds the effects one round reads (default 100).
type EffectRunnerConfig struct {
	Common
	Schedule
}

// EffectRunner executes the queued side effects.
type EffectRunner struct {
	store     fulfillment.Store
	inventory fulfillment.Inventory
	orders    fulfillment.Orders
	cfg       EffectRunnerConfig
	wake      chan struct{}
}

// NewEffectRunner returns a runner; run it with Run.
func NewEffectRunner(store fulfillment.Store, inventory fulfillment.Inventory, orders fulfillment.Orders, cfg EffectRunnerConfig) *EffectRunner {
	cfg.Common = cfg.Common.withDefaults()
	cfg.Schedule = cfg.Schedule.withDefaults(100)
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
// DELIVERED), but other orders and kinds go ahead. The effects a round
// finished (done or refused) are recorded together in one transaction at
// its end, also when it stops early; a crash before that repeats their
// calls, which are idempotent on the effect's key.
func (r *EffectRunner) RunOnce(ctx context.Context) (more bool, err error) {
	effs, err := r.store.PendingEffects(ctx, r.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	var finished []fulfillment.EffectResult
	defer func() {
		if len(finished) == 0 {
			return
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if ferr := r.store.FinishEffects(fctx, finished, r.cfg.Now()); ferr != nil {
			more, err = false, errors.Join(err, ferr)
		}
	}()
	type lane struct {
		kind  fulfillment.EffectKind
		order string
	}
	blocked := map[lane]bool{}
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
		switch {
		case callErr == nil:
			finished = append(finished, fulfillment.EffectResult{ID: e.ID})
		case errors.Is(callErr, errUnreadable) || fulfillment.AsRejectedDependency(callErr) != nil:
			log.ErrorContext(ctx, "side effect refused; parked for operators", slog.Any("error", callErr))
			finished = append(finished, fulfillment.EffectResult{ID: e.ID, Failure: callErr.Error()})
		default:
			blocked[l] = true
			log.WarnContext(ctx, "side effect failed; will retry", slog.Any("error", callErr))
			if err := r.store.RetryEffect(ctx, e.ID, callErr.Error(), now.Add(r.cfg.Backoff.After(e.Attempts+1))); err != nil {
				return false, err
			}
		}
	}
	return len(finished) > 0 && len(effs) == r.cfg.BatchSize, nil
}

// finishTimeout bounds the write that records a round's finished effects,
// which runs even when the round's context ended.
const finishTimeout = 5 * time.Second

// errUnreadable marks an effect whose call the store could not read back.
var errUnreadable = errors.New("unreadable effect")

func (r *EffectRunner) execute(ctx context.Context, e fulfillment.Effect) error {
	switch {
	case e.Unreadable != nil:
		return fmt.Errorf("%w: %w", errUnreadable, e.Unreadable)
	case e.Commit != nil:
		return r.inventory.CommitReservation(ctx, *e.Commit)
	case e.Progress != nil:
		return r.orders.RecordShipmentProgress(ctx, *e.Progress)
	default:
		return fmt.Errorf("%w: effect %s %q without its call", errUnreadable, e.Kind, e.Key)
	}
}
