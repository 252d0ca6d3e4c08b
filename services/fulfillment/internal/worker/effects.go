package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// EffectRunnerConfig configures an EffectRunner. Schedule.BatchSize
// bounds the effects one round reads (default 100).
type EffectRunnerConfig struct {
	Common
	Schedule
	// Lanes bounds how many lanes (order × kind) run at once in a round
	// (default 8); the effects of one lane always run one after the other.
	Lanes int
}

// EffectRunner executes the queued side effects.
type EffectRunner struct {
	store     fulfillment.Store
	inventory fulfillment.Inventory
	orders    fulfillment.Orders
	wms       fulfillment.WMS
	cfg       EffectRunnerConfig
	wake      chan struct{}
}

// NewEffectRunner returns a runner; run it with Run. wms registers
// expected returns.
func NewEffectRunner(store fulfillment.Store, inventory fulfillment.Inventory, orders fulfillment.Orders, wms fulfillment.WMS, cfg EffectRunnerConfig) *EffectRunner {
	cfg.Common = cfg.Common.withDefaults()
	cfg.Schedule = cfg.Schedule.withDefaults(100)
	if cfg.Lanes <= 0 {
		cfg.Lanes = 8
	}
	return &EffectRunner{store: store, inventory: inventory, orders: orders, wms: wms, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Notify wakes the runner for an early round. It never blocks.
func (r *EffectRunner) Notify() { notify(r.wake) }

// Run executes effects until ctx ends.
func (r *EffectRunner) Run(ctx context.Context) {
	loop(ctx, r.cfg.Logger, "side effect runner", r.cfg.Interval, r.wake, r.RunOnce)
}

// lane is the sequence effects keep: one order's effects of one kind.
type lane struct {
	kind  fulfillment.EffectKind
	order string
}

// laneOf returns the lane of e: its order and kind, except restocks,
// which all share one lane so inventory gets each (SKU, warehouse)
// sequence in order.
func laneOf(e fulfillment.Effect) lane {
	if e.Kind == fulfillment.EffectRestock {
		return lane{kind: e.Kind}
	}
	return lane{e.Kind, e.OrderID}
}

// RunOnce executes the due effects once each. Effects of one order and
// kind (a lane) run in the order they were queued: while one waits for a
// retry, the later ones wait too (so the order service sees SHIPPED before
// DELIVERED), but other lanes go ahead; up to Lanes lanes run at once, so
// the neighbours can share their commits between the calls. The effects a
// round finished (done or refused) are recorded together in one
// transaction at its end, also when it stops early; a crash before that
// repeats their calls, which are idempotent on the effect's key.
func (r *EffectRunner) RunOnce(ctx context.Context) (more bool, err error) {
	effs, err := r.store.PendingEffects(ctx, r.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	lanes := map[lane][]fulfillment.Effect{}
	var order []lane
	for _, e := range effs {
		l := laneOf(e)
		if _, ok := lanes[l]; !ok {
			order = append(order, l)
		}
		lanes[l] = append(lanes[l], e)
	}
	var (
		mu       sync.Mutex
		finished []fulfillment.EffectResult
		errs     []error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, r.cfg.Lanes)
	for _, l := range order {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			done, err := r.runLane(ctx, lanes[l])
			mu.Lock()
			defer mu.Unlock()
			finished = append(finished, done...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	errs = append(errs, ctx.Err())
	if len(finished) > 0 {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if err := r.store.FinishEffects(fctx, finished, r.cfg.Now()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	return len(finished) > 0 && len(effs) == r.cfg.BatchSize, nil
}

// runLane executes the due effects of one lane in order until one fails
// and waits for a retry (recorded at once), and returns those it
// finished.
func (r *EffectRunner) runLane(ctx context.Context, effs []fulfillment.Effect) ([]fulfillment.EffectResult, error) {
	var finished []fulfillment.EffectResult
	for _, e := range effs {
		now := r.cfg.Now()
		if ctx.Err() != nil || e.NextAttemptAt.After(now) {
			return finished, nil
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
			log.WarnContext(ctx, "side effect failed; will retry", slog.Any("error", callErr))
			return finished, r.store.RetryEffect(ctx, e.ID, callErr.Error(), now.Add(r.cfg.Backoff.After(e.Attempts+1)))
		}
	}
	return finished, nil
}

// finishTimeout bounds the write that records what a round of the effect
// runner or the dispatcher did, which runs even when the round's context
// ended.
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
	case e.Kind == fulfillment.EffectCancelExpectedReturn && e.Return != nil:
		return r.cancelReturn(ctx, *e.Return)
	case e.Return != nil:
		return r.registerReturn(ctx, *e.Return)
	case e.Restock != nil:
		return r.inventory.Restock(ctx, *e.Restock)
	case e.Receipt != nil:
		return r.reportReceipt(ctx, *e.Receipt)
	default:
		return fmt.Errorf("%w: effect %s %q without its call", errUnreadable, e.Kind, e.Key)
	}
}

// registerReturn announces an expected return to the WMS. A refusal is
// final for its id at the WMS (wms.v1), so it raises a WMS_REJECTION
// exception and is parked like a refused call.
func (r *EffectRunner) registerReturn(ctx context.Context, er fulfillment.ExpectedReturn) error {
	if cancelled, err := r.returnCancelled(ctx, er.ID); err != nil || cancelled {
		return err
	}
	a, err := r.wms.RegisterExpectedReturn(ctx, er)
	if err != nil {
		return err
	}
	if !a.Accepted {
		refused := &fulfillment.DependencyError{Dependency: "wms", Rejected: true, Reason: a.RejectionReason,
			Err: fmt.Errorf("expected return %s refused by the WMS: %s %s", er.ID, a.RejectionReason, a.RejectionMessage)}
		// The desk hears of it before the effect is parked; a crash in
		// between repeats the call, which the WMS answers with the same
		// refusal, and the desk keeps one exception per return.
		err := r.store.InTx(ctx, func(tx fulfillment.Tx) error {
			return tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventReturnReceiptRefused, OccurTime: r.cfg.Now(),
				ReturnRefusal: &fulfillment.ReturnRefusal{ExpectedReturnID: er.ID, OrderID: er.OrderID, WarehouseID: er.WarehouseID,
					Reason: fulfillment.RejectReason(a.RejectionReason), Message: "registration refused: " + a.RejectionMessage}})
		})
		if err != nil {
			return err
		}
		r.cfg.Published()
		return refused
	}
	r.cfg.Logger.InfoContext(ctx, "expected return registered with the WMS", slog.String("expected_return_id", er.ID),
		slog.String("return_authorization_id", er.ReturnAuthorizationID), slog.String("warehouse", er.WarehouseID),
		slog.String("wms_reference", a.Reference), slog.Bool("duplicate", a.Duplicate))
	return nil
}
