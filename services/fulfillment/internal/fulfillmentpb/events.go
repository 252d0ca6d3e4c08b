package fulfillmentpb

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Producer is the EventMetadata.producer of the service's events.
const Producer = "fulfillment"

// Aggregate types of the service's events: each shipment and each request
// is its own sequence.
const (
	AggregateShipment      = "shipment"
	AggregateRequest       = "fulfillment_request"
	AggregateReturnReceipt = "return_receipt"
)

// SubjectReturnReceived is the subject of ReturnReceivedEvent on the
// fulfillment stream (which captures transload.fulfillment.>). It belongs
// in platform/eventstreams next to ShipmentUpdated; until it moves there
// it is named here.
const SubjectReturnReceived = "transload.fulfillment.return_received"

// Audit actions the service records (opsevents "<resource type>.<verb>").
const (
	AuditRequestRetry  = "fulfillment_request.retry"
	AuditRequestCancel = "fulfillment_request.cancel"
)

// orderService is who cancels fulfilment when the call names nobody:
// CancelFulfillment is the order service's call.
var orderService = fulfillment.Actor{Kind: opsevents.ActorService, ID: "order"}

// Events returns the outbox events of ev, to be written together: the
// fulfillment.v1 event with its subject from platform/eventstreams and a
// builder that wraps the metadata the outbox assigns, and what ev tells
// the operations plane (opsevents): the exception a failed request or a
// mismatching shipment report raises, and the audit record of a retry or a
// cancellation. Shipment changes are not audited: the WMS is the system of
// record for shipments and reports them (ShipmentUpdatedEvent carries each);
// what they change in Transload's own data, the order's progress, is
// audited by the order service (order.ship). At about four WMS reports per
// shipment they were also 40% of the audit trail's volume.
func Events(ev fulfillment.Event) ([]outbox.Event, error) {
	switch ev.Type {
	case fulfillment.EventShipmentUpdated:
		if ev.Shipment == nil {
			break
		}
		return []outbox.Event{{ID: ev.ID, Producer: Producer, OccurredAt: ev.OccurTime,
			AggregateType: AggregateShipment, AggregateID: ev.Shipment.ID, Subject: eventstreams.ShipmentUpdated,
			Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
				return &fulfillmentv1.ShipmentUpdatedEvent{
					Metadata:      md,
					Shipment:      ShipmentToProto(ev.Shipment),
					PreviousState: fulfillmentv1.Shipment_State(ev.PreviousShipmentState),
					WmsEventId:    ev.WMSEventID,
				}, nil
			}}}, nil
	case fulfillment.EventRequestFailed:
		if ev.Request == nil {
			break
		}
		r := ev.Request
		failed := requestEvent(ev, eventstreams.FulfillmentRequestFailed, func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &fulfillmentv1.FulfillmentRequestFailedEvent{Metadata: md, FulfillmentRequest: RequestToProto(r),
				PreviousState: fulfillmentv1.FulfillmentRequest_State(ev.PreviousRequestState)}, nil
		})
		exc, err := opsevents.Raise(Producer, opsevents.Exception{
			Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
			Resource: "fulfillmentRequests/" + r.ID, AggregateType: AggregateRequest, AggregateID: r.ID,
			Message: "fulfillment request " + r.ID + " failed: " + r.LastError,
			Details: map[string]any{"fulfillmentRequest": RequestName(r.OrderID, r.ID), "order": "orders/" + r.OrderID,
				"wmsCode": ev.WMSCode, "wmsMessage": ev.WMSMessage},
			OccurredAt: ev.OccurTime,
		})
		if err != nil {
			return nil, err
		}
		return []outbox.Event{failed, exc}, nil
	case fulfillment.EventRequestCancelled:
		if ev.Request == nil {
			break
		}
		if ev.Actor.IsZero() {
			ev.Actor = orderService
		}
		cancelled := requestEvent(ev, eventstreams.FulfillmentRequestCancelled, func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &fulfillmentv1.FulfillmentRequestCancelledEvent{Metadata: md, FulfillmentRequest: RequestToProto(ev.Request),
				PreviousState: fulfillmentv1.FulfillmentRequest_State(ev.PreviousRequestState),
				Actor:         &commonv1.AuditActor{Kind: ev.Actor.Kind, Id: ev.Actor.ID}}, nil
		})
		return withRequestAudit([]outbox.Event{cancelled}, ev, AuditRequestCancel)
	case fulfillment.EventRequestRetried:
		if ev.Request == nil {
			break
		}
		return withRequestAudit(nil, ev, AuditRequestRetry)
	case fulfillment.EventReturnReceived:
		if ev.ReturnReceipt == nil {
			break
		}
		rr := ev.ReturnReceipt
		return []outbox.Event{{ID: ev.ID, Producer: Producer, OccurredAt: ev.OccurTime,
			AggregateType: AggregateReturnReceipt, AggregateID: rr.ID, Subject: SubjectReturnReceived,
			Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
				return &fulfillmentv1.ReturnReceivedEvent{Metadata: md, ReturnReceipt: ReturnReceiptToProto(rr)}, nil
			}}}, nil
	case fulfillment.EventReturnReceiptRefused:
		if ev.ReturnRefusal == nil {
			break
		}
		exc, err := returnRefusalException(*ev.ReturnRefusal, ev)
		if err != nil {
			return nil, err
		}
		return []outbox.Event{exc}, nil
	case fulfillment.EventShipmentMismatch:
		if ev.Mismatch == nil {
			break
		}
		exc, err := mismatchException(*ev.Mismatch, ev)
		if err != nil {
			return nil, err
		}
		return []outbox.Event{exc}, nil
	}
	return nil, fmt.Errorf("%w: event type %d without its resource", fulfillment.ErrInvalidArgument, ev.Type)
}

// requestEvent returns the fulfillment.v1 event of a request change.
func requestEvent(ev fulfillment.Event, subject string, build outbox.Builder) outbox.Event {
	return outbox.Event{ID: ev.ID, Producer: Producer, OccurredAt: ev.OccurTime,
		AggregateType: AggregateRequest, AggregateID: ev.Request.ID, Subject: subject, Build: build}
}

// withRequestAudit returns out with the audit record of the request
// change ev made (before: ev.PreviousRequest).
func withRequestAudit(out []outbox.Event, ev fulfillment.Event, action string) ([]outbox.Event, error) {
	var before proto.Message
	if ev.PreviousRequest != nil {
		before = RequestToProto(ev.PreviousRequest)
	}
	return withAudit(out, ev, action, RequestName(ev.Request.OrderID, ev.Request.ID), before, RequestToProto(ev.Request))
}

// withAudit returns out with the audit record of action on target by
// ev's actor (the service itself when ev names nobody).
func withAudit(out []outbox.Event, ev fulfillment.Event, action, target string, before, after proto.Message) ([]outbox.Event, error) {
	actor := opsevents.Service(Producer)
	if !ev.Actor.IsZero() {
		actor = opsevents.Actor{Kind: ev.Actor.Kind, ID: ev.Actor.ID}
	}
	rec, err := opsevents.Record(Producer, opsevents.Audit{Actor: actor, Action: action, Target: target,
		Before: before, After: after, OccurredAt: ev.OccurTime})
	if err != nil {
		return nil, err
	}
	return append(out, rec), nil
}

// mismatchException is the SHIPMENT_MISMATCH exception of m.
func mismatchException(m fulfillment.ShipmentMismatch, ev fulfillment.Event) (outbox.Event, error) {
	shipment := m.WMSReference
	if m.ShipmentID != "" {
		shipment = ShipmentName(m.OrderID, m.ShipmentID)
	}
	what := fmt.Sprintf("reports %d of SKU %q (order line %q), the request allocates %d", m.Reported, m.SKU, m.OrderLineID, m.Expected)
	return opsevents.Raise(Producer, opsevents.Exception{
		Kind: opsv1.Exception_KIND_SHIPMENT_MISMATCH, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource: "fulfillmentRequests/" + m.RequestID, AggregateType: AggregateRequest, AggregateID: m.RequestID,
		Message: "WMS shipment report for fulfillment request " + m.RequestID + " " + what,
		Details: map[string]any{"shipment": shipment, "fulfillmentRequest": RequestName(m.OrderID, m.RequestID),
			"order": "orders/" + m.OrderID, "orderLine": m.OrderLineID, "wmsEvent": ev.WMSEventID,
			"sku": m.SKU, "expected": m.Expected, "reported": m.Reported},
		OccurredAt: ev.OccurTime,
	})
}

// returnRefusalException is the WMS_REJECTION exception of a refused WMS
// return receipt or registration (ops.v1: "the WMS rejected ... a return
// receipt"), on the return it names (the WMS event when it names none).
func returnRefusalException(r fulfillment.ReturnRefusal, ev fulfillment.Event) (outbox.Event, error) {
	resource, aggregate := "returnAuthorizations/"+r.ExpectedReturnID, r.ExpectedReturnID
	if r.ExpectedReturnID == "" {
		resource, aggregate = "wmsEvents/"+r.WMSEventID, r.WMSEventID
	}
	return opsevents.Raise(Producer, opsevents.Exception{
		Kind: opsv1.Exception_KIND_WMS_REJECTION, Severity: opsv1.Exception_SEVERITY_HIGH, Domain: opsv1.Exception_DOMAIN_FULFILLMENT,
		Resource: resource, AggregateType: AggregateReturnReceipt, AggregateID: aggregate,
		Message: "WMS return " + r.ExpectedReturnID + " " + r.WMSEventID + ": " + r.Message,
		Details: map[string]any{"return": r.ExpectedReturnID, "order": r.OrderID, "warehouse": r.WarehouseID,
			"wmsEvent": r.WMSEventID, "wmsCode": string(r.Reason), "wmsMessage": r.Message},
		OccurredAt: ev.OccurTime,
	})
}
