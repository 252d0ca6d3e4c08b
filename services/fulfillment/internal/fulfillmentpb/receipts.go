package fulfillmentpb

import (
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// RestockSourceSystem is the source system of fulfilment's restock stock
// events in inventory: their sequences are fulfilment's own per (SKU,
// warehouse), apart from the WMS's and the ERP's stock feeds.
const RestockSourceSystem = "fulfillment-returns"

// ReturnReceiptName returns the resource name of a return receipt.
func ReturnReceiptName(orderID, id string) string {
	return "orders/" + orderID + "/returnReceipts/" + id
}

// dispositionFromWMS maps a wms.v1 disposition; "" for UNSPECIFIED.
func dispositionFromWMS(d wmsv1.ReturnDisposition) fulfillment.Disposition {
	switch d {
	case wmsv1.ReturnDisposition_RETURN_DISPOSITION_RESTOCK:
		return fulfillment.DispositionRestock
	case wmsv1.ReturnDisposition_RETURN_DISPOSITION_QUARANTINE:
		return fulfillment.DispositionQuarantine
	case wmsv1.ReturnDisposition_RETURN_DISPOSITION_SCRAP:
		return fulfillment.DispositionScrap
	case wmsv1.ReturnDisposition_RETURN_DISPOSITION_UNSPECIFIED:
		return ""
	default:
		return ""
	}
}

// ReturnFeedPageFromProto converts a page of the WMS return event feed,
// fingerprinted like the shipment feed.
func ReturnFeedPageFromProto(res *wmsv1.ListReturnEventsResponse) (fulfillment.FeedPage, error) {
	page := fulfillment.FeedPage{NextCursor: res.GetNextCursor(), HasMore: res.GetHasMore()}
	for _, ev := range res.GetReturnEvents() {
		fp, payload, err := fingerprint.Proto(ev)
		if err != nil {
			return fulfillment.FeedPage{}, err
		}
		rec := fulfillment.ReturnReceiptEvent{
			EventID: ev.GetEventId(), ExpectedReturnID: ev.GetReturnAuthorizationId(), OrderID: ev.GetOrderId(),
			WarehouseID: ev.GetWarehouseCode(), WMSReference: ev.GetWmsReference(), Complete: ev.GetReceiptComplete(),
			OccurTime: timeOf(ev.GetOccurTime()),
		}
		for _, l := range ev.GetLines() {
			cond := ""
			if c := l.GetCondition(); c != wmsv1.ReturnCondition_RETURN_CONDITION_UNSPECIFIED {
				cond = strings.TrimPrefix(c.String(), "RETURN_CONDITION_")
			}
			rec.Lines = append(rec.Lines, fulfillment.ReceiptLine{
				ReturnLineID: l.GetLineId(), SKU: l.GetSku(), Quantity: l.GetReceivedQuantity(),
				Disposition: dispositionFromWMS(l.GetDisposition()), Condition: cond, Note: l.GetNote(),
			})
		}
		page.Events = append(page.Events, fulfillment.WMSEvent{
			ID: ev.GetEventId(), Kind: fulfillment.WMSEventReturnReceipt, Receipt: rec, Fingerprint: fp, Payload: payload,
		})
	}
	return page, nil
}

// returnReceiptFromPush converts a return receipt a push adapter sent.
func returnReceiptFromPush(ev *fulfillmentv1.WmsEvent, r *fulfillmentv1.WmsReturnReceipt) fulfillment.ReturnReceiptEvent {
	rec := fulfillment.ReturnReceiptEvent{
		EventID: ev.GetEventId(), ExpectedReturnID: r.GetReturnAuthorizationId(), OrderID: r.GetOrderId(),
		WarehouseID: ev.GetWarehouseId(), OccurTime: timeOf(ev.GetOccurTime()),
	}
	for _, l := range r.GetLines() {
		rec.Lines = append(rec.Lines, fulfillment.ReceiptLine{
			ReturnLineID: l.GetReturnLineId(), SKU: l.GetSku(), Quantity: l.GetReceivedQuantity(),
			Disposition: dispositionFromProto(l.GetDisposition()),
		})
	}
	return rec
}

func dispositionFromProto(d fulfillmentv1.Disposition) fulfillment.Disposition {
	if d == fulfillmentv1.Disposition_DISPOSITION_UNSPECIFIED {
		return ""
	}
	return fulfillment.Disposition(strings.TrimPrefix(d.String(), "DISPOSITION_"))
}

// ReturnReceiptToProto converts a recorded return receipt.
func ReturnReceiptToProto(rr *fulfillment.ReturnReceipt) *fulfillmentv1.ReturnReceipt {
	out := &fulfillmentv1.ReturnReceipt{
		Name: ReturnReceiptName(rr.OrderID, rr.ID), ReturnReceiptId: rr.ID, ReturnAuthorizationId: rr.ReturnAuthorizationID,
		OrderId: rr.OrderID, CustomerId: rr.CustomerID, WarehouseId: rr.WarehouseID,
		ReceiveTime: timestamppb.New(rr.ReceiveTime), WmsEventId: rr.WMSEventID, LastError: rr.LastError,
		CreateTime: timestamppb.New(rr.CreateTime),
	}
	if !rr.OrderRecordTime.IsZero() {
		out.OrderRecordTime = timestamppb.New(rr.OrderRecordTime)
	}
	for _, l := range rr.Lines {
		out.Lines = append(out.Lines, &fulfillmentv1.ReturnReceiptLine{
			ReturnLineId: l.ReturnLineID, Sku: l.SKU, ReceivedQuantity: l.Quantity,
			Disposition: fulfillmentv1.Disposition(fulfillmentv1.Disposition_value["DISPOSITION_"+string(l.Disposition)]),
		})
	}
	return out
}

// RestockToProto builds the inventory ApplyStockEvents call of r.
func RestockToProto(r fulfillment.Restock) *inventoryv1.ApplyStockEventsRequest {
	req := &inventoryv1.ApplyStockEventsRequest{RequestId: r.RequestID, SourceSystem: RestockSourceSystem}
	for _, e := range r.Events {
		req.Events = append(req.Events, &inventoryv1.StockEvent{
			EventId: e.EventID, Sku: e.SKU, WarehouseCode: e.WarehouseID, Sequence: e.Sequence,
			Kind: inventoryv1.StockEvent_KIND_RETURN_RESTOCK, Quantity: e.Quantity,
			OccurTime: timestamppb.New(e.OccurTime), Reference: e.Reference,
		})
	}
	return req
}

// RestockFromProto is the inverse of RestockToProto.
func RestockFromProto(req *inventoryv1.ApplyStockEventsRequest) fulfillment.Restock {
	r := fulfillment.Restock{RequestID: req.GetRequestId()}
	for _, e := range req.GetEvents() {
		r.Events = append(r.Events, fulfillment.StockEvent{
			EventID: e.GetEventId(), SKU: e.GetSku(), WarehouseID: e.GetWarehouseCode(), Sequence: e.GetSequence(),
			Quantity: e.GetQuantity(), OccurTime: timeOf(e.GetOccurTime()), Reference: e.GetReference(),
		})
	}
	return r
}

// ReceiptReportToProto builds the order RecordReturnReceipt call.
func ReceiptReportToProto(p fulfillment.ReceiptReport) *orderv1.RecordReturnReceiptRequest {
	req := &orderv1.RecordReturnReceiptRequest{
		Name:        "orders/" + p.OrderID + "/returnAuthorizations/" + p.ReturnAuthorizationID,
		EventId:     p.EventID,
		WarehouseId: p.WarehouseID,
		ReceiveTime: timestamppb.New(p.ReceiveTime),
		// The receipt id is the resource id on fulfilment's side.
		ReturnReceiptId: p.ReceiptID,
	}
	for _, l := range p.Lines {
		req.Lines = append(req.Lines, &orderv1.ReceivedReturnLine{
			LineId: l.ReturnLineID, ReceivedQuantity: l.Quantity,
			Disposition: orderv1.Disposition(orderv1.Disposition_value["DISPOSITION_"+string(l.Disposition)]),
		})
	}
	return req
}

// ReceiptReportFromProto is the inverse of ReceiptReportToProto (the order
// line ids and SKUs of the lines are not part of the call).
func ReceiptReportFromProto(req *orderv1.RecordReturnReceiptRequest) fulfillment.ReceiptReport {
	rest := strings.TrimPrefix(req.GetName(), "orders/")
	orderID, rmaID, _ := strings.Cut(rest, "/returnAuthorizations/")
	p := fulfillment.ReceiptReport{
		OrderID: orderID, ReturnAuthorizationID: rmaID, EventID: req.GetEventId(), WarehouseID: req.GetWarehouseId(),
		ReceiveTime: timeOf(req.GetReceiveTime()), ReceiptID: req.GetReturnReceiptId(),
	}
	for _, l := range req.GetLines() {
		p.Lines = append(p.Lines, fulfillment.ReceiptLine{
			ReturnLineID: l.GetLineId(), Quantity: l.GetReceivedQuantity(),
			Disposition: fulfillment.Disposition(strings.TrimPrefix(l.GetDisposition().String(), "DISPOSITION_")),
		})
	}
	return p
}
