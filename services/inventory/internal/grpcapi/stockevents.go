package grpcapi

import (
	"context"
	"errors"
	"strings"

	"buf.build/go/protovalidate"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/inventorypb"
)

// ApplyStockEvents implements InventoryService.ApplyStockEvents. Each event
// is validated against the StockEvent constraints here (the request-level
// interceptor skips them on purpose) so one malformed event is REJECTED
// with ERROR_REASON_STOCK_EVENT_INVALID without failing the batch.
func (s *Server) ApplyStockEvents(ctx context.Context, req *inventoryv1.ApplyStockEventsRequest) (*inventoryv1.ApplyStockEventsResponse, error) {
	p := inventory.ApplyStockEventsParams{
		RequestID: req.GetRequestId(), SourceSystem: req.GetSourceSystem(), Invalid: map[int]string{}, Actor: actor(ctx),
	}
	for i, pe := range req.GetEvents() {
		if err := protovalidate.Validate(pe); err != nil {
			var verr *protovalidate.ValidationError
			if errors.As(err, &verr) {
				var parts []string
				for _, v := range verr.Violations {
					parts = append(parts, protovalidate.FieldPathString(v.Proto.GetField())+": "+v.Proto.GetMessage())
				}
				p.Invalid[i] = strings.Join(parts, "; ")
			} else {
				p.Invalid[i] = "event cannot be validated"
			}
		}
		p.Events = append(p.Events, stockEventFromProto(pe))
	}
	res, err := s.svc.ApplyStockEvents(ctx, p)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	resp := &inventoryv1.ApplyStockEventsResponse{}
	for _, r := range res {
		pr := &inventoryv1.StockEventResult{
			EventId:         r.EventID,
			Outcome:         inventoryv1.StockEventResult_Outcome(r.Outcome),
			Message:         r.Message,
			AppliedSequence: r.AppliedSequence,
		}
		switch r.Reason {
		case inventory.RejectNone:
		case inventory.RejectInvalid:
			pr.Reason = inventoryv1.ErrorReason_ERROR_REASON_STOCK_EVENT_INVALID
		case inventory.RejectStale:
			pr.Reason = inventoryv1.ErrorReason_ERROR_REASON_STALE_SEQUENCE
		case inventory.RejectWarehouseNotFound:
			pr.Reason = inventoryv1.ErrorReason_ERROR_REASON_WAREHOUSE_NOT_FOUND
		}
		switch r.Outcome {
		case inventory.OutcomeApplied:
			resp.AppliedCount++
		case inventory.OutcomeDuplicate:
			resp.DuplicateCount++
		case inventory.OutcomeBuffered:
			resp.BufferedCount++
		case inventory.OutcomeRejected:
			resp.RejectedCount++
		}
		resp.Results = append(resp.Results, pr)
	}
	return resp, nil
}

func stockEventFromProto(pe *inventoryv1.StockEvent) inventory.StockEvent {
	e := inventory.StockEvent{
		EventID: pe.GetEventId(), SKU: pe.GetSku(), WarehouseCode: pe.GetWarehouseCode(), Sequence: pe.GetSequence(),
		Kind: inventory.StockEventKind(pe.GetKind()), Quantity: pe.GetQuantity(), Reference: pe.GetReference(),
		ReasonCode: pe.GetReasonCode(), ReservationID: reservationID(pe.GetReservation()), ShipmentID: pe.GetShipmentId(),
		Inbound: inventorypb.InboundFromProto(pe.GetInbound()),
	}
	if pe.GetOccurTime() != nil {
		e.OccurTime = pe.GetOccurTime().AsTime()
	}
	return e
}
