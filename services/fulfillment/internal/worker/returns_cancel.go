package worker

import (
	"context"
	"errors"
	"log/slog"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// returnCancelled reports whether expected return id was cancelled (its
// return authorization closed without receipt): a registration still
// queued then has nothing to announce.
func (r *EffectRunner) returnCancelled(ctx context.Context, id string) (bool, error) {
	var cancelled bool
	err := r.store.InTx(ctx, func(tx fulfillment.Tx) error {
		er, ok, err := tx.ExpectedReturn(ctx, id)
		cancelled = ok && er.Cancelled()
		return err
	})
	if cancelled {
		r.cfg.Logger.InfoContext(ctx, "expected return cancelled before its registration; not registered", slog.String("expected_return_id", id))
	}
	return cancelled, err
}

// cancelReturn withdraws an expected return at the WMS (the call carries
// the effect runner's deadline and the WMS breaker like every WMS call).
// A return the WMS never registered is done; one it already received
// goods for is done too: the receipt comes through the return feed and,
// the expected return being cancelled, is raised for the exception desk
// (applyReturnReceipt) instead of being lost.
func (r *EffectRunner) cancelReturn(ctx context.Context, er fulfillment.ExpectedReturn) error {
	err := r.wms.CancelExpectedReturn(ctx, er.ID, "return authorization "+er.ReturnAuthorizationID+" closed without receipt")
	log := r.cfg.Logger.With(slog.String("expected_return_id", er.ID), slog.String("return_authorization_id", er.ReturnAuthorizationID),
		slog.String("warehouse", er.WarehouseID))
	switch {
	case err == nil:
		log.InfoContext(ctx, "expected return cancelled at the WMS")
	case errors.Is(err, fulfillment.ErrExpectedReturnUnknown):
		log.InfoContext(ctx, "expected return was never registered at the WMS; nothing to cancel")
	case errors.Is(err, fulfillment.ErrReturnAlreadyReceived):
		log.WarnContext(ctx, "the WMS already received goods for the cancelled return; its receipt goes to the exception desk")
	default:
		return err
	}
	return nil
}

// reportReceipt hands a recorded return receipt to the order service. A
// refusal is final (the order service keeps refusing the same receipt):
// typically the return was closed without receipt while the parcel was
// on its way (the late parcel raced the cancellation or expiry, and
// RecordReturnReceipt refuses a CLOSED return with
// INVALID_STATE_TRANSITION). The receipt stays recorded here, and before
// the effect is parked it raises the WMS_REJECTION exception of refused
// receipts with the order service's reason, so the goods reach the desk,
// not only a log line. A crash in between repeats the call and the
// refusal; the desk keeps one exception per return.
func (r *EffectRunner) reportReceipt(ctx context.Context, p fulfillment.ReceiptReport) error {
	err := r.orders.RecordReturnReceipt(ctx, p)
	d := fulfillment.AsRejectedDependency(err)
	if d == nil {
		return err
	}
	werr := r.store.InTx(ctx, func(tx fulfillment.Tx) error {
		return tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventReturnReceiptRefused, OccurTime: r.cfg.Now(),
			ReturnRefusal: &fulfillment.ReturnRefusal{ExpectedReturnID: p.ReturnAuthorizationID, OrderID: p.OrderID,
				WarehouseID: p.WarehouseID, WMSEventID: p.EventID, Reason: fulfillment.RejectReason(d.Reason),
				Message: "receipt " + p.ReceiptID + " recorded but refused by the order service (return closed without receipt?): " + d.Error()}})
	})
	if werr != nil {
		return werr
	}
	r.cfg.Published()
	return err
}
