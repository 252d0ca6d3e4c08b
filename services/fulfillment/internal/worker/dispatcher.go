package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// DispatcherConfig configures a Dispatcher. Schedule.BatchSize bounds the
// requests one round sends (default 50).
type DispatcherConfig struct {
	Common
	Schedule
	// MaxAttempts is the retry budget per request; 0 retries forever.
	MaxAttempts int
}

// Dispatcher sends fulfilment requests waiting for the WMS.
type Dispatcher struct {
	store fulfillment.Store
	wms   fulfillment.WMS
	cfg   DispatcherConfig
	wake  chan struct{}
}

// NewDispatcher returns a dispatcher; run it with Run.
func NewDispatcher(store fulfillment.Store, wms fulfillment.WMS, cfg DispatcherConfig) *Dispatcher {
	cfg.Common = cfg.Common.withDefaults()
	cfg.Schedule = cfg.Schedule.withDefaults(50)
	return &Dispatcher{store: store, wms: wms, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Notify wakes the dispatcher for an early round (new requests). It never
// blocks.
func (d *Dispatcher) Notify() { notify(d.wake) }

// Run dispatches until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	loop(ctx, d.cfg.Logger, "fulfillment dispatcher", d.cfg.Interval, d.wake, d.RunOnce)
}

// delivery is the outcome of one delivery attempt of a round.
type delivery struct {
	id      string
	answer  fulfillment.WMSAnswer
	callErr error
}

// RunOnce sends the requests that are due and records the outcomes of the
// round in one transaction (a crash before it repeats the calls, which the
// WMS de-duplicates on the request id); more reports that a full batch was
// processed.
func (d *Dispatcher) RunOnce(ctx context.Context) (more bool, err error) {
	due, err := d.store.DueRequests(ctx, d.cfg.Now(), d.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	out := make([]delivery, 0, len(due))
	for _, r := range due {
		if ctx.Err() != nil {
			break
		}
		answer, callErr := d.wms.CreateShipmentRequest(ctx, r)
		out = append(out, delivery{r.ID, answer, callErr})
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if err := d.record(rctx, out); err != nil {
		return false, fmt.Errorf("record deliveries: %w", err)
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	return len(due) == d.cfg.BatchSize, nil
}

// record stores the outcomes of a round's delivery attempts in one
// transaction, then logs them.
func (d *Dispatcher) record(ctx context.Context, out []delivery) error {
	if len(out) == 0 {
		return nil
	}
	published := false
	err := d.store.InTx(ctx, func(tx fulfillment.Tx) error {
		published = false
		for _, o := range out {
			p, err := d.recordOne(ctx, tx, o)
			if err != nil {
				return fmt.Errorf("%s: %w", o.id, err)
			}
			published = published || p
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range out {
		log := d.cfg.Logger.With(slog.String("fulfillment_request_id", o.id))
		switch {
		case o.callErr != nil:
			log.WarnContext(ctx, "fulfillment request not delivered to the WMS", slog.Any("error", o.callErr))
		case o.answer.Accepted:
			log.InfoContext(ctx, "fulfillment request acknowledged by the WMS",
				slog.String("wms_reference", o.answer.Reference), slog.Bool("duplicate", o.answer.Duplicate))
		default:
			log.ErrorContext(ctx, "fulfillment request rejected by the WMS",
				slog.String("reason", o.answer.RejectionReason), slog.String("message", o.answer.RejectionMessage))
		}
	}
	if published {
		d.cfg.Published()
	}
	return nil
}

// recordOne stores the outcome of one delivery attempt in tx and reports
// whether it wrote an event.
func (d *Dispatcher) recordOne(ctx context.Context, tx fulfillment.Tx, o delivery) (published bool, err error) {
	r, err := tx.GetRequest(ctx, o.id)
	if err != nil {
		return false, err
	}
	if !r.State.Open() {
		return false, nil // changed meanwhile (acknowledged, cancelled)
	}
	now := d.cfg.Now()
	prev := r.State
	if errors.Is(o.callErr, fulfillment.ErrCircuitOpen) {
		// Refused locally: not an attempt, no budget spent.
		r.DeliveryFailed(o.callErr.Error(), now, now.Add(d.cfg.Backoff.After(max(r.AttemptCount, 1))))
		return false, tx.UpdateRequest(ctx, r)
	}
	r.AttemptCount++
	failed := fulfillment.Event{Type: fulfillment.EventRequestFailed, Request: r, PreviousRequestState: prev, OccurTime: now}
	switch rejected := fulfillment.AsRejectedDependency(o.callErr); {
	case rejected != nil:
		r.Fail("wms refused the request: "+rejected.Err.Error(), now)
		failed.WMSCode, failed.WMSMessage = rejected.Reason, rejected.Err.Error()
	case o.callErr != nil:
		if d.cfg.MaxAttempts > 0 && r.AttemptCount >= d.cfg.MaxAttempts {
			r.Fail(fmt.Sprintf("not delivered to the WMS after %d attempts: %v", r.AttemptCount, o.callErr), now)
			failed.WMSMessage = o.callErr.Error()
		} else {
			r.DeliveryFailed(o.callErr.Error(), now, now.Add(d.cfg.Backoff.After(r.AttemptCount)))
		}
	default:
		r.Answered(o.answer, now)
		failed.WMSCode, failed.WMSMessage = o.answer.RejectionReason, o.answer.RejectionMessage
	}
	if err := tx.UpdateRequest(ctx, r); err != nil {
		return false, err
	}
	if r.State != fulfillment.RequestFailed {
		return false, nil
	}
	return true, tx.WriteEvent(ctx, failed)
}

// Retry puts a FAILED request back to PENDING (RetryFulfillmentRequest,
// operator) and wakes the dispatcher; the retry is recorded for the audit
// trail as actor's. orderID, when not empty, must be the request's order.
// requestID and fingerprint make the call idempotent (see
// fulfillment.Request.Retry). Errors: fulfillment.ErrRequestNotFound,
// fulfillment.ErrIdempotencyKeyReused, *fulfillment.RejectionError.
func (d *Dispatcher) Retry(ctx context.Context, orderID, id, requestID, fingerprint, note string, actor fulfillment.Actor) (*fulfillment.Request, error) {
	var (
		out    *fulfillment.Request
		replay bool
	)
	err := d.store.InTx(ctx, func(tx fulfillment.Tx) error {
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if orderID != "" && r.OrderID != orderID {
			return fmt.Errorf("%w: %s", fulfillment.ErrRequestNotFound, id)
		}
		before := *r
		now := d.cfg.Now()
		if replay, err = r.Retry(requestID, fingerprint, now); err != nil {
			return err
		}
		out = r
		if replay {
			return nil
		}
		if err := tx.UpdateRequest(ctx, r); err != nil {
			return err
		}
		return tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventRequestRetried, Request: r, PreviousRequest: &before,
			Actor: actor, OccurTime: now})
	})
	if err != nil {
		return nil, err
	}
	if !replay {
		d.cfg.Logger.InfoContext(ctx, "fulfillment request retried by an operator",
			slog.String("fulfillment_request_id", id), slog.String("request_id", requestID), slog.String("note", note))
		d.cfg.Published()
		d.Notify()
	}
	return out, nil
}
