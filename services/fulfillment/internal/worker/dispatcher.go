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

// RunOnce sends the requests that are due; more reports that a full batch
// was processed.
func (d *Dispatcher) RunOnce(ctx context.Context) (more bool, err error) {
	due, err := d.store.DueRequests(ctx, d.cfg.Now(), d.cfg.BatchSize)
	if err != nil {
		return false, err
	}
	for _, r := range due {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		answer, callErr := d.wms.CreateShipmentRequest(ctx, r)
		if err := d.record(ctx, r.ID, answer, callErr); err != nil {
			return false, fmt.Errorf("record delivery of %s: %w", r.ID, err)
		}
	}
	return len(due) == d.cfg.BatchSize, nil
}

// record stores the outcome of one delivery attempt.
func (d *Dispatcher) record(ctx context.Context, id string, answer fulfillment.WMSAnswer, callErr error) error {
	log := d.cfg.Logger.With(slog.String("fulfillment_request_id", id))
	published := false
	err := d.store.InTx(ctx, func(tx fulfillment.Tx) error {
		published = false
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if !r.State.Open() {
			return nil // changed meanwhile (acknowledged, cancelled)
		}
		now := d.cfg.Now()
		prev := r.State
		if errors.Is(callErr, fulfillment.ErrCircuitOpen) {
			// Refused locally: not an attempt, no budget spent.
			r.DeliveryFailed(callErr.Error(), now, now.Add(d.cfg.Backoff.After(max(r.AttemptCount, 1))))
			return tx.UpdateRequest(ctx, r)
		}
		r.AttemptCount++
		failed := fulfillment.Event{Type: fulfillment.EventRequestFailed, Request: r, PreviousRequestState: prev, OccurTime: now}
		switch rejected := fulfillment.AsRejectedDependency(callErr); {
		case rejected != nil:
			r.Fail("wms refused the request: "+rejected.Err.Error(), now)
			failed.WMSCode, failed.WMSMessage = rejected.Reason, rejected.Err.Error()
		case callErr != nil:
			if d.cfg.MaxAttempts > 0 && r.AttemptCount >= d.cfg.MaxAttempts {
				r.Fail(fmt.Sprintf("not delivered to the WMS after %d attempts: %v", r.AttemptCount, callErr), now)
				failed.WMSMessage = callErr.Error()
			} else {
				r.DeliveryFailed(callErr.Error(), now, now.Add(d.cfg.Backoff.After(r.AttemptCount)))
			}
		default:
			r.Answered(answer, now)
			failed.WMSCode, failed.WMSMessage = answer.RejectionReason, answer.RejectionMessage
		}
		if err := tx.UpdateRequest(ctx, r); err != nil {
			return err
		}
		if r.State != fulfillment.RequestFailed {
			return nil
		}
		published = true
		return tx.WriteEvent(ctx, failed)
	})
	if err != nil {
		return err
	}
	switch {
	case callErr != nil:
		log.WarnContext(ctx, "fulfillment request not delivered to the WMS", slog.Any("error", callErr))
	case answer.Accepted:
		log.InfoContext(ctx, "fulfillment request acknowledged by the WMS",
			slog.String("wms_reference", answer.Reference), slog.Bool("duplicate", answer.Duplicate))
	default:
		log.ErrorContext(ctx, "fulfillment request rejected by the WMS",
			slog.String("reason", answer.RejectionReason), slog.String("message", answer.RejectionMessage))
	}
	if published {
		d.cfg.Published()
	}
	return nil
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
