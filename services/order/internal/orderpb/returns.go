package orderpb

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/order/internal/order"
)

// ReturnAggregateType is the outbox aggregate type of return events: each
// return has its own event sequence.
const ReturnAggregateType = "return_authorization"

// ReturnState converts a domain return state.
func ReturnState(s order.ReturnState) orderv1.ReturnAuthorization_State {
	return orderv1.ReturnAuthorization_State(s)
}

// ReturnStateFromProto converts a contract return state.
func ReturnStateFromProto(s orderv1.ReturnAuthorization_State) order.ReturnState {
	return order.ReturnState(s)
}

// ReturnAuthorization converts a domain return.
func ReturnAuthorization(r *order.Return) *orderv1.ReturnAuthorization {
	p := &orderv1.ReturnAuthorization{
		Name:                  order.ReturnName(r.OrderID, r.ID),
		ReturnAuthorizationId: r.ID,
		OrderId:               r.OrderID,
		CustomerId:            r.CustomerID,
		State:                 ReturnState(r.State),
		CustomerComment:       r.Comment,
		RejectionMessage:      r.RejectionMessage,
		CreditMemoReference:   r.CreditMemoRef,
		CreditTotal:           Money(r.CreditTotalMinor, r.Currency),
		RefundTotal:           Money(r.RefundMinor, r.Currency),
		ReplacementOrderId:    r.ReplacementOrderID,
		CreateRequestId:       r.CreateRequestID,
		CreateTime:            ts(r.CreatedAt),
		UpdateTime:            ts(r.UpdatedAt),
		ReceiveTime:           ts(r.ReceivedAt),
		CreditTime:            ts(r.CreditedAt),
		Etag:                  r.Etag(),
	}
	for _, l := range r.Lines {
		pl := &orderv1.ReturnLine{
			LineId: l.ID, OrderLineId: l.OrderLineID, Sku: l.SKU, Quantity: l.Quantity,
			Reason:               orderv1.ReturnReason(l.Reason),
			RequestedDisposition: orderv1.Disposition(l.RequestedDisposition),
			Resolution:           orderv1.Resolution(l.Resolution),
			ReceivedQuantity:     l.ReceivedQuantity(),
			CreditAmount:         Money(l.CreditMinor, r.Currency),
		}
		for _, d := range l.Received {
			pl.Received = append(pl.Received, &orderv1.DispositionQuantity{Disposition: orderv1.Disposition(d.Disposition), Quantity: d.Quantity})
		}
		p.Lines = append(p.Lines, pl)
	}
	for _, h := range r.History {
		p.StateHistory = append(p.StateHistory, &orderv1.ReturnStateChange{
			PreviousState: ReturnState(h.From), State: ReturnState(h.To), OccurTime: ts(h.At),
			Actor: Actor(h.Actor), Reason: h.Reason, CorrelationId: h.CorrelationID,
		})
	}
	return p
}

// ReceivedLines converts the lines of a receipt.
func ReceivedLines(ls []order.ReceivedLine) []*orderv1.ReceivedReturnLine {
	out := make([]*orderv1.ReceivedReturnLine, 0, len(ls))
	for _, l := range ls {
		out = append(out, &orderv1.ReceivedReturnLine{LineId: l.LineID, ReceivedQuantity: l.Quantity, Disposition: orderv1.Disposition(l.Disposition)})
	}
	return out
}

// ReturnEvent implements sqlstore.ReturnEncoder: the order.v1 return event
// of ev, built once the outbox assigned its metadata, on its subject as
// platform/eventstreams declares it (eventstreams.OrderReturnRequested, ...).
func (Encoder) ReturnEvent(ev order.ReturnEvent) (outbox.Event, error) {
	r := ev.Return
	pr := ReturnAuthorization(r)
	prev := ReturnState(ev.PreviousState)
	var (
		subject string
		build   func(md *commonv1.EventMetadata) proto.Message
	)
	switch ev.Type {
	case order.EventReturnRequested:
		subject, build = eventstreams.OrderReturnRequested, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.ReturnRequestedEvent{Metadata: md, ReturnAuthorization: pr}
		}
	case order.EventReturnAuthorized:
		subject, build = eventstreams.OrderReturnAuthorized, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.ReturnAuthorizedEvent{Metadata: md, ReturnAuthorization: pr, PreviousState: prev}
		}
	case order.EventReturnRejected:
		subject, build = eventstreams.OrderReturnRejected, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.ReturnRejectedEvent{Metadata: md, ReturnAuthorization: pr, PreviousState: prev}
		}
	case order.EventReturnReceived:
		subject, build = eventstreams.OrderReturnReceived, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.ReturnReceivedEvent{Metadata: md, ReturnAuthorization: pr, PreviousState: prev,
				WarehouseId: ev.WarehouseID, ReceivedLines: ReceivedLines(ev.Received)}
		}
	case order.EventReturnCredited:
		subject, build = eventstreams.OrderReturnCredited, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.ReturnCreditedEvent{Metadata: md, ReturnAuthorization: pr, PreviousState: prev,
				CreditMemoReference: r.CreditMemoRef, CreditTotal: Money(r.CreditTotalMinor, r.Currency)}
		}
	case order.EventReturnClosed:
		subject, build = eventstreams.OrderReturnClosed, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.ReturnClosedEvent{Metadata: md, ReturnAuthorization: pr, PreviousState: prev}
		}
	default:
		return outbox.Event{}, fmt.Errorf("orderpb: unknown return event type %d", ev.Type)
	}
	return outbox.Event{
		AggregateType: ReturnAggregateType, AggregateID: r.ID, Subject: subject, Producer: Producer,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) { return build(md), nil },
	}, nil
}

// ReturnAudit implements sqlstore.ReturnEncoder: the AuditRecordedEvent of
// a return change, its before and after rendered as order.v1
// ReturnAuthorization.
func (Encoder) ReturnAudit(a order.Audit) (outbox.Event, error) {
	conv := func(v any) (any, error) {
		switch r := v.(type) {
		case nil:
			return nil, nil
		case *order.Return:
			if r == nil {
				return nil, nil
			}
			return ReturnAuthorization(r), nil
		default:
			return nil, fmt.Errorf("orderpb: %s: unsupported resource %T", a.Action, v)
		}
	}
	before, err := conv(a.Before)
	if err != nil {
		return outbox.Event{}, err
	}
	after, err := conv(a.After)
	if err != nil {
		return outbox.Event{}, err
	}
	return opsevents.Record(Producer, opsevents.Audit{
		Actor: opsevents.Actor{Kind: a.Actor.Kind, ID: a.Actor.ID}, Action: a.Action, Target: a.Target,
		Before: before, After: after, OccurredAt: a.OccurredAt,
	})
}
