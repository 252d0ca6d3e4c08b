package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
	"github.com/transload/transload/services/fulfillment/internal/store/sqlstore"
)

// WMS creates shipment requests at the WMS adapter. Errors are the
// domain's dependency errors (see package depcall).
type WMS interface {
	CreateShipmentRequest(ctx context.Context, req *wmsv1.CreateShipmentRequestRequest) (*wmsv1.CreateShipmentRequestResponse, error)
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Interval is the pause between rounds when nothing wakes the
	// dispatcher.
	Interval time.Duration
	// Backoff spaces the delivery attempts of one request.
	Backoff Backoff
	// MaxAttempts is the retry budget per request; 0 retries forever.
	MaxAttempts int
	// BatchSize bounds the requests one round sends (default 50).
	BatchSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Published is called after a commit that wrote outbox events.
	Published func()
}

// Dispatcher sends fulfilment requests waiting for the WMS.
type Dispatcher struct {
	store *sqlstore.Store
	wms   WMS
	cfg   DispatcherConfig
	wake  chan struct{}
}

// NewDispatcher returns a dispatcher; run it with Run.
func NewDispatcher(store *sqlstore.Store, wms WMS, cfg DispatcherConfig) *Dispatcher {
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 50
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Published == nil {
		cfg.Published = func() {}
	}
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
		res, callErr := d.wms.CreateShipmentRequest(ctx, fulfillmentpb.ShipmentRequestToWMS(r))
		if err := d.record(ctx, r.ID, res, callErr); err != nil {
			return false, fmt.Errorf("record delivery of %s: %w", r.ID, err)
		}
	}
	return len(due) == d.cfg.BatchSize, nil
}

// record stores the outcome of one delivery attempt.
func (d *Dispatcher) record(ctx context.Context, id string, res *wmsv1.CreateShipmentRequestResponse, callErr error) error {
	log := d.cfg.Logger.With(slog.String("fulfillment_request_id", id))
	published := false
	err := d.store.InTx(ctx, func(tx *sqlstore.Tx) error {
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
		var rejected *fulfillment.DependencyRejectedError
		if errors.Is(callErr, fulfillment.ErrCircuitOpen) {
			// Refused locally: not an attempt, no budget spent.
			r.DeliveryFailed(callErr.Error(), now, now.Add(d.cfg.Backoff.After(max(r.AttemptCount, 1))))
			return tx.UpdateRequest(ctx, r)
		}
		r.AttemptCount++
		switch {
		case callErr != nil && errors.As(callErr, &rejected):
			r.Fail("wms refused the request: "+rejected.Message, now)
		case callErr != nil:
			if d.cfg.MaxAttempts > 0 && r.AttemptCount >= d.cfg.MaxAttempts {
				r.Fail(fmt.Sprintf("not delivered to the WMS after %d attempts: %v", r.AttemptCount, callErr), now)
			} else {
				r.DeliveryFailed(callErr.Error(), now, now.Add(d.cfg.Backoff.After(r.AttemptCount)))
			}
		case res.GetOutcome() == wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED:
			r.Acknowledge(res.GetWmsReference(), now)
		default:
			r.Fail(fmt.Sprintf("WMS rejected the request: %s %s", res.GetRejectionReason(), res.GetRejectionMessage()), now)
		}
		if err := tx.UpdateRequest(ctx, r); err != nil {
			return err
		}
		if r.State != fulfillment.RequestFailed {
			return nil
		}
		published = true
		return writeEvent(ctx, tx, "fulfillment_request", r.ID, SubjectFulfillmentRequestFailed, "", now,
			func(md *commonv1.EventMetadata) proto.Message {
				return &fulfillmentv1.FulfillmentRequestFailedEvent{
					Metadata:           md,
					FulfillmentRequest: fulfillmentpb.RequestToProto(r),
					PreviousState:      fulfillmentv1.FulfillmentRequest_State(prev),
				}
			})
	})
	if err != nil {
		return err
	}
	switch {
	case callErr != nil:
		log.WarnContext(ctx, "fulfillment request not delivered to the WMS", slog.Any("error", callErr))
	case res.GetOutcome() == wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED:
		log.InfoContext(ctx, "fulfillment request acknowledged by the WMS",
			slog.String("wms_reference", res.GetWmsReference()), slog.Bool("duplicate", res.GetDuplicate()))
	default:
		log.ErrorContext(ctx, "fulfillment request rejected by the WMS",
			slog.String("reason", res.GetRejectionReason().String()), slog.String("message", res.GetRejectionMessage()))
	}
	if published {
		d.cfg.Published()
	}
	return nil
}

// Retry puts a FAILED request back to PENDING (RetryFulfillmentRequest,
// operator) and wakes the dispatcher. orderID, when not empty, must be the
// request's order. requestID and fingerprint make the call idempotent (see
// fulfillment.Request.Retry). Errors: fulfillment.ErrRequestNotFound,
// fulfillment.ErrIdempotencyKeyReused, *fulfillment.RejectionError.
func (d *Dispatcher) Retry(ctx context.Context, orderID, id, requestID, fingerprint, note string) (*fulfillment.Request, error) {
	var (
		out    *fulfillment.Request
		replay bool
	)
	err := d.store.InTx(ctx, func(tx *sqlstore.Tx) error {
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if orderID != "" && r.OrderID != orderID {
			return fmt.Errorf("%w: %s", fulfillment.ErrRequestNotFound, id)
		}
		if replay, err = r.Retry(requestID, fingerprint, d.cfg.Now()); err != nil {
			return err
		}
		if !replay {
			if err := tx.UpdateRequest(ctx, r); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !replay {
		d.cfg.Logger.InfoContext(ctx, "fulfillment request retried by an operator",
			slog.String("fulfillment_request_id", id), slog.String("request_id", requestID), slog.String("note", note))
		d.Notify()
	}
	return out, nil
}
