package fulfillmentpb

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/fingerprint"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// timeOf returns t as a UTC time, or the zero time for nil or a time
// outside the Timestamp range.
func timeOf(t *timestamppb.Timestamp) time.Time {
	if !t.IsValid() { // an out-of-range time would wrap in storage
		return time.Time{}
	}
	return t.AsTime().UTC()
}

// ShipmentRequestToWMS builds the WMS CreateShipmentRequest call of r.
func ShipmentRequestToWMS(r *fulfillment.Request) *wmsv1.CreateShipmentRequestRequest {
	lines := make([]*wmsv1.ShipmentRequestLine, 0, len(r.Lines))
	for _, l := range r.Lines {
		lines = append(lines, &wmsv1.ShipmentRequestLine{LineId: l.OrderLineID, Sku: l.SKU, Quantity: l.Quantity})
	}
	return &wmsv1.CreateShipmentRequestRequest{
		ShipmentRequestId: r.ID,
		ShipmentRequest: &wmsv1.ShipmentRequest{
			OrderId:           r.OrderID,
			WarehouseCode:     r.WarehouseID,
			ShipTo:            AddressToProto(r.ShipTo),
			Lines:             lines,
			CustomerReference: r.CustomerPO,
		},
	}
}

// WMSAnswerFromProto converts the WMS's answer to CreateShipmentRequest.
func WMSAnswerFromProto(res *wmsv1.CreateShipmentRequestResponse) fulfillment.WMSAnswer {
	return fulfillment.WMSAnswer{
		Accepted:         res.GetOutcome() == wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED,
		Reference:        res.GetWmsReference(),
		Duplicate:        res.GetDuplicate(),
		RejectionReason:  res.GetRejectionReason().String(),
		RejectionMessage: res.GetRejectionMessage(),
	}
}

// FeedPageFromProto converts a page of the WMS shipment event feed. Each
// event's fingerprint is the digest of its deterministic encoding (the
// digest stored for events seen before this version).
func FeedPageFromProto(res *wmsv1.ListShipmentEventsResponse) (fulfillment.FeedPage, error) {
	page := fulfillment.FeedPage{NextCursor: res.GetNextCursor(), HasMore: res.GetHasMore()}
	for _, ev := range res.GetShipmentEvents() {
		fp, payload, err := fingerprint.Proto(ev)
		if err != nil {
			return fulfillment.FeedPage{}, err
		}
		out := fulfillment.WMSEvent{ID: ev.GetEventId(), RequestID: ev.GetShipmentRequestId(), Fingerprint: fp, Payload: payload}
		if state, ok := shipmentStateFromWMS(ev.GetState()); ok {
			out.Kind, out.Shipment = fulfillment.WMSEventShipment, shipmentEventFromWMS(ev, state)
		} else if ev.GetState() == wmsv1.ShipmentRequest_STATE_CANCELLED {
			out.Kind = fulfillment.WMSEventCancelled
		}
		page.Events = append(page.Events, out)
	}
	return page, nil
}

// shipmentStateFromWMS maps a WMS milestone to a shipment state; ok is
// false for states that are not shipment milestones (ACCEPTED, REJECTED,
// CANCELLED).
func shipmentStateFromWMS(s wmsv1.ShipmentRequest_State) (fulfillment.ShipmentState, bool) {
	switch s {
	case wmsv1.ShipmentRequest_STATE_PICKED:
		return fulfillment.ShipmentPicked, true
	case wmsv1.ShipmentRequest_STATE_PACKED:
		return fulfillment.ShipmentPacked, true
	case wmsv1.ShipmentRequest_STATE_SHIPPED:
		return fulfillment.ShipmentShipped, true
	case wmsv1.ShipmentRequest_STATE_IN_TRANSIT:
		return fulfillment.ShipmentInTransit, true
	case wmsv1.ShipmentRequest_STATE_DELIVERED:
		return fulfillment.ShipmentDelivered, true
	case wmsv1.ShipmentRequest_STATE_EXCEPTION:
		return fulfillment.ShipmentException, true
	case wmsv1.ShipmentRequest_STATE_UNSPECIFIED, wmsv1.ShipmentRequest_STATE_ACCEPTED,
		wmsv1.ShipmentRequest_STATE_REJECTED, wmsv1.ShipmentRequest_STATE_CANCELLED:
		return 0, false
	default:
		return 0, false
	}
}

// shipmentEventFromWMS converts a feed event whose state is a shipment
// milestone.
func shipmentEventFromWMS(ev *wmsv1.ShipmentEvent, state fulfillment.ShipmentState) fulfillment.ShipmentEvent {
	lines := make([]fulfillment.ShipmentLine, 0, len(ev.GetLines()))
	for _, l := range ev.GetLines() {
		lines = append(lines, fulfillment.ShipmentLine{OrderLineID: l.GetLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	detail := ev.GetExceptionMessage()
	if c := ev.GetExceptionCode(); c != "" {
		if detail != "" {
			detail = c + ": " + detail
		} else {
			detail = c
		}
	}
	return fulfillment.ShipmentEvent{
		EventID:        ev.GetEventId(),
		RequestID:      ev.GetShipmentRequestId(),
		WarehouseID:    ev.GetWarehouseCode(),
		WMSReference:   ev.GetShipmentId(),
		State:          state,
		Carrier:        ev.GetCarrier(),
		ServiceLevel:   ev.GetCarrierService(),
		TrackingNumber: ev.GetTrackingNumber(),
		TrackingURL:    ev.GetTrackingUrl(),
		Lines:          lines,
		Detail:         detail,
		OccurTime:      timeOf(ev.GetOccurTime()),
	}
}

// WMSEventFromPush converts an event a push adapter sent
// (ApplyWmsEvents), fingerprinted like a feed event.
func WMSEventFromPush(ev *fulfillmentv1.WmsEvent) (fulfillment.WMSEvent, error) {
	fp, payload, err := fingerprint.Proto(ev)
	if err != nil {
		return fulfillment.WMSEvent{}, err
	}
	out := fulfillment.WMSEvent{ID: ev.GetEventId(), Fingerprint: fp, Payload: payload}
	switch p := ev.GetPayload().(type) {
	case *fulfillmentv1.WmsEvent_ShipmentUpdate:
		u := p.ShipmentUpdate
		lines := make([]fulfillment.ShipmentLine, 0, len(u.GetLines()))
		for _, l := range u.GetLines() {
			lines = append(lines, fulfillment.ShipmentLine{OrderLineID: l.GetOrderLineId(), SKU: l.GetSku(), Quantity: l.GetQuantity()})
		}
		out.RequestID, out.Kind = u.GetFulfillmentRequestId(), fulfillment.WMSEventShipment
		out.Shipment = fulfillment.ShipmentEvent{
			EventID:        ev.GetEventId(),
			RequestID:      u.GetFulfillmentRequestId(),
			WarehouseID:    ev.GetWarehouseId(),
			WMSReference:   u.GetWmsShipmentReference(),
			State:          fulfillment.ShipmentState(u.GetState()),
			Carrier:        u.GetCarrier(),
			ServiceLevel:   u.GetServiceLevel(),
			TrackingNumber: u.GetTrackingNumber(),
			TrackingURL:    u.GetTrackingUrl(),
			Lines:          lines,
			Detail:         u.GetDetail(),
			OccurTime:      timeOf(ev.GetOccurTime()),
		}
	case *fulfillmentv1.WmsEvent_FulfillmentAcknowledgement:
		a := p.FulfillmentAcknowledgement
		out.RequestID, out.Kind = a.GetFulfillmentRequestId(), fulfillment.WMSEventAcknowledgement
		out.Answer = fulfillment.WMSAnswer{Accepted: a.GetAccepted(), Reference: a.GetWmsReference(), RejectionMessage: a.GetRejectionMessage()}
	case *fulfillmentv1.WmsEvent_ReturnReceipt:
		out.Kind, out.Receipt = fulfillment.WMSEventReturnReceipt, returnReceiptFromPush(ev, p.ReturnReceipt)
	default:
		out.Kind = fulfillment.WMSEventUnsupported
	}
	return out, nil
}

// WMSEventResultToProto converts the outcome of one pushed event.
func WMSEventResultToProto(r fulfillment.WMSEventResult) *fulfillmentv1.WmsEventResult {
	out := &fulfillmentv1.WmsEventResult{EventId: r.EventID}
	switch r.Outcome {
	case fulfillment.WMSEventApplied:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_APPLIED
		switch {
		case r.ReturnReceiptID != "":
			out.Resource = ReturnReceiptName(r.OrderID, r.ReturnReceiptID)
		case r.ShipmentID != "":
			out.Resource = ShipmentName(r.OrderID, r.ShipmentID)
		case r.RequestID != "":
			out.Resource = RequestName(r.OrderID, r.RequestID)
		}
	case fulfillment.WMSEventDuplicate:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_DUPLICATE
	case fulfillment.WMSEventRejected:
		out.Outcome = fulfillmentv1.WmsEventResult_OUTCOME_REJECTED
		out.ErrorReason = RejectReasonToProto(r.Reason)
		out.Message = r.Message
	}
	return out
}
