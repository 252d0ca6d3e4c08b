package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Canceller cancels the fulfilment of orders (CancelFulfillment).
type Canceller struct {
	store fulfillment.Store
	wms   fulfillment.WMS
	cfg   Common
}

// NewCanceller returns a canceller.
func NewCanceller(store fulfillment.Store, wms fulfillment.WMS, cfg Common) *Canceller {
	return &Canceller{store: store, wms: wms, cfg: cfg.withDefaults()}
}

// Cancel cancels every open fulfilment request of the order, at the WMS
// first and then in Transload, and remembers the cancellation so no
// request is created for the order afterwards. requestID and fingerprint
// make the call idempotent; a retry continues where a failed call
// stopped. Each cancelled request is recorded for the audit trail as
// actor's. It returns the order's requests after the call.
//
// Errors: fulfillment.ErrIdempotencyKeyReused; *fulfillment.RejectionError
// with RejectAlreadyShipped (something was picked, packed or shipped, or
// the WMS refused for that reason) or RejectWMSRejected; an error wrapping
// fulfillment.ErrDependencyUnavailable when the WMS cannot be reached.
func (c *Canceller) Cancel(ctx context.Context, orderID, requestID, reason, fingerprint string, actor fulfillment.Actor) ([]*fulfillment.Request, error) {
	var open []*fulfillment.Request
	err := c.store.InTx(ctx, func(tx fulfillment.Tx) error {
		open = nil
		prev, ok, err := tx.Cancellation(ctx, requestID)
		if err != nil {
			return err
		}
		if ok && (prev.Fingerprint != fingerprint || prev.OrderID != orderID) {
			return fulfillment.ErrIdempotencyKeyReused
		}
		reqs, err := tx.OrderRequests(ctx, orderID)
		if err != nil {
			return err
		}
		for _, r := range reqs {
			if r.State == fulfillment.RequestCancelled {
				continue
			}
			shipped, err := tx.RequestHasShipments(ctx, r.ID)
			if err != nil {
				return err
			}
			if shipped || r.State == fulfillment.RequestCompleted {
				return &fulfillment.RejectionError{
					Reason: fulfillment.RejectAlreadyShipped, Message: "part of the order has been picked, packed or shipped",
					Metadata: map[string]string{"fulfillment_request_id": r.ID, "shipment_state": ""},
				}
			}
			open = append(open, r)
		}
		if ok {
			return nil
		}
		return tx.RecordCancellation(ctx, fulfillment.Cancellation{
			RequestID: requestID, OrderID: orderID, Fingerprint: fingerprint, Reason: reason, CreateTime: c.cfg.Now(),
		})
	})
	if err != nil {
		return nil, err
	}
	for _, r := range open {
		if err := c.cancelOne(ctx, r.ID, reason, actor); err != nil {
			return nil, err
		}
	}
	var out []*fulfillment.Request
	err = c.store.InTx(ctx, func(tx fulfillment.Tx) error {
		var err error
		out, err = tx.OrderRequests(ctx, orderID)
		return err
	})
	return out, err
}

// cancelOne cancels one request at the WMS, then in Transload with its
// event and audit record.
func (c *Canceller) cancelOne(ctx context.Context, id, reason string, actor fulfillment.Actor) error {
	err := c.wms.CancelShipmentRequest(ctx, id, reason)
	switch rej := fulfillment.AsRejectedDependency(err); {
	case err == nil:
	case errors.Is(err, fulfillment.ErrUnknownAtWMS):
		// Never created at the WMS: cancelling here is enough.
	case errors.Is(err, fulfillment.ErrTooLateToCancel):
		return &fulfillment.RejectionError{
			Reason: fulfillment.RejectAlreadyShipped, Message: "the WMS can no longer cancel the request",
			Metadata: map[string]string{"fulfillment_request_id": id, "shipment_state": ""},
		}
	case rej != nil:
		return &fulfillment.RejectionError{
			Reason: fulfillment.RejectWMSRejected, Message: "the WMS refused the cancellation",
			Metadata: map[string]string{"wms_code": rej.Reason, "wms_message": rej.Err.Error()},
		}
	default:
		return fmt.Errorf("cancel %s at the WMS: %w", id, err)
	}
	published := false
	err = c.store.InTx(ctx, func(tx fulfillment.Tx) error {
		published = false
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		before := *r
		now := c.cfg.Now()
		if !r.Cancel(reason, now) {
			return nil
		}
		if err := tx.UpdateRequest(ctx, r); err != nil {
			return err
		}
		published = true
		return tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventRequestCancelled, Request: r,
			PreviousRequestState: before.State, PreviousRequest: &before, Actor: actor, OccurTime: now})
	})
	if err != nil {
		return err
	}
	if published {
		c.cfg.Logger.InfoContext(ctx, "fulfillment request cancelled", slog.String("fulfillment_request_id", id))
		c.cfg.Published()
	}
	return nil
}
