package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// applyReturnReceipt records a WMS return receipt inside tx: the receipt
// (matched to the expected return it names and that return's RMA and
// order lines) and, in the same transaction, its effects: the RESTOCK
// units back into sellable stock (one RETURN_RESTOCK stock event per SKU,
// with the next sequence of fulfilment's own stream for that SKU and
// warehouse) and the report to the order service. QUARANTINE and SCRAP
// units are recorded on the receipt only. A receipt for no registered
// expected return (an unplanned return), or one that would receive more
// of a line than the return expects, is refused and recorded for the
// exception desk. A receipt against an expected return whose return
// authorization was closed without receipt (a late parcel) is recorded
// but raised for the exception desk (RejectReturnCancelled) instead of
// restocked and reported: the order service no longer takes it.
func applyReturnReceipt(ctx context.Context, tx fulfillment.Tx, source string, ev fulfillment.ReturnReceiptEvent, now time.Time, res *applyResult) error {
	er, ok, err := tx.ExpectedReturn(ctx, ev.ExpectedReturnID)
	if err != nil {
		return err
	}
	if !ok {
		return &fulfillment.RejectionError{Reason: fulfillment.RejectUnknownReturn,
			Message:  fmt.Sprintf("return receipt for %q, which fulfilment never registered (unplanned return)", ev.ExpectedReturnID),
			Metadata: map[string]string{"return_authorization_id": ev.ExpectedReturnID}}
	}
	customerID := ""
	reqs, err := tx.OrderRequests(ctx, er.OrderID)
	if err != nil {
		return err
	}
	if len(reqs) > 0 {
		customerID = reqs[0].CustomerID
	}
	id := "RR-" + derivedEventID(source, ev.EventID)
	rr, err := fulfillment.NewReturnReceipt(id, source, ev, er, customerID, now)
	if err != nil {
		return err
	}
	prior, err := tx.ReturnReceiptsOf(ctx, er.OrderID, er.ID)
	if err != nil {
		return err
	}
	if err := er.CheckReceivable(prior, rr); err != nil {
		return err
	}
	if err := tx.InsertReturnReceipt(ctx, rr); err != nil {
		return err
	}
	res.OrderID, res.ReturnReceiptID = rr.OrderID, rr.ID
	if er.Cancelled() {
		// The parcel arrived after its return authorization was closed
		// without receipt: the order service would refuse the report. The
		// receipt stays recorded (the goods are in the warehouse) and goes
		// to the exception desk, neither restocked nor reported.
		res.published = true
		return tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventReturnReceiptRefused, OccurTime: now,
			ReturnRefusal: &fulfillment.ReturnRefusal{ExpectedReturnID: er.ID, OrderID: er.OrderID, WarehouseID: rr.WarehouseID,
				WMSEventID: ev.EventID, Reason: fulfillment.RejectReturnCancelled,
				Message: fmt.Sprintf("receipt %s recorded after return authorization %s was closed without receipt (cancelled or expired at %s); "+
					"the goods are in the warehouse, not restocked and not credited", rr.ID, er.ReturnAuthorizationID,
					er.CancelTime.UTC().Format(time.RFC3339))}})
	}
	if err := tx.WriteEvent(ctx, fulfillment.Event{Type: fulfillment.EventReturnReceived, ID: derivedEventID(source, ev.EventID),
		ReturnReceipt: rr, OccurTime: now}); err != nil {
		return err
	}
	res.published = true
	if restock := rr.RestockQuantities(); len(restock) > 0 {
		r := fulfillment.Restock{RequestID: rr.ID}
		for _, l := range restock {
			seq, err := tx.NextRestockSequence(ctx, l.SKU, rr.WarehouseID)
			if err != nil {
				return err
			}
			r.Events = append(r.Events, fulfillment.StockEvent{
				EventID: rr.ID + "/" + l.SKU, SKU: l.SKU, WarehouseID: rr.WarehouseID, Sequence: seq, Quantity: l.Quantity,
				Reference: rr.ReturnAuthorizationID, OccurTime: rr.ReceiveTime,
			})
		}
		if _, err := tx.EnqueueEffect(ctx, fulfillment.RestockEffect(rr.OrderID, r, now)); err != nil {
			return err
		}
	}
	if _, err := tx.EnqueueEffect(ctx, fulfillment.ReceiptEffect(rr.Report(), now)); err != nil {
		return err
	}
	res.queued = true
	return nil
}
