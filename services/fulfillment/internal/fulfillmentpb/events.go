package fulfillmentpb

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Producer is the EventMetadata.producer of the service's events.
const Producer = "fulfillment"

// Aggregate types of the service's events: each shipment and each request
// is its own sequence.
const (
	AggregateShipment = "shipment"
	AggregateRequest  = "fulfillment_request"
)

// Event returns the outbox event of ev: its subject from
// platform/eventstreams and a builder that wraps the metadata the outbox
// assigns into the fulfillment.v1 event message.
func Event(ev fulfillment.Event) (outbox.Event, error) {
	out := outbox.Event{ID: ev.ID, Producer: Producer, OccurredAt: ev.OccurTime}
	switch ev.Type {
	case fulfillment.EventShipmentUpdated:
		if ev.Shipment == nil {
			break
		}
		out.AggregateType, out.AggregateID, out.Subject = AggregateShipment, ev.Shipment.ID, eventstreams.ShipmentUpdated
		out.Build = func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &fulfillmentv1.ShipmentUpdatedEvent{
				Metadata:      md,
				Shipment:      ShipmentToProto(ev.Shipment),
				PreviousState: fulfillmentv1.Shipment_State(ev.PreviousShipmentState),
				WmsEventId:    ev.WMSEventID,
			}, nil
		}
		return out, nil
	case fulfillment.EventRequestFailed, fulfillment.EventRequestCancelled:
		if ev.Request == nil {
			break
		}
		cancelled := ev.Type == fulfillment.EventRequestCancelled
		out.AggregateType, out.AggregateID, out.Subject = AggregateRequest, ev.Request.ID, eventstreams.FulfillmentRequestFailed
		if cancelled {
			out.Subject = eventstreams.FulfillmentRequestCancelled
		}
		out.Build = func(md *commonv1.EventMetadata) (proto.Message, error) {
			r, prev := RequestToProto(ev.Request), fulfillmentv1.FulfillmentRequest_State(ev.PreviousRequestState)
			if cancelled {
				// CancelFulfillment is the order service's call.
				return &fulfillmentv1.FulfillmentRequestCancelledEvent{Metadata: md, FulfillmentRequest: r, PreviousState: prev,
					Actor: &commonv1.AuditActor{Kind: "service", Id: "order"}}, nil
			}
			return &fulfillmentv1.FulfillmentRequestFailedEvent{Metadata: md, FulfillmentRequest: r, PreviousState: prev}, nil
		}
		return out, nil
	}
	return outbox.Event{}, fmt.Errorf("%w: event type %d without its resource", fulfillment.ErrInvalidArgument, ev.Type)
}
