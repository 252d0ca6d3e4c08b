// Package orderpb converts between the order domain and the wire: the
// order.v1 contract types (resources and events) and the errors of the
// neighbours' gRPC calls. It is pure: no I/O. grpcapi uses it for
// responses, the store's outbox encoder for event payloads and the client
// adapters for addresses and dependency errors.
package orderpb

import (
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/grpcclient"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/order/internal/order"
)

// Producer is the EventMetadata.producer of order events. Their stream and
// subjects are declared in platform/eventstreams (Order, OrderAccepted, ...).
const Producer = "order"

// AggregateType is the outbox aggregate type of order events.
const AggregateType = "order"

// DependencyError returns the *order.DependencyError for err, an error of a
// call to the neighbour target, when grpcclient.Classify says the call may
// succeed if repeated (the target was down, slow, overloaded, lost a race
// or its breaker is open), so the domain retries or answers UNAVAILABLE
// without inspecting gRPC codes. It returns nil for no error and for the
// target's verdicts (rejected: NOT_FOUND, FAILED_PRECONDITION, ...), which
// each adapter maps to its own domain errors.
func DependencyError(target string, err error) error {
	c := grpcclient.Classify(err)
	if !c.Retryable() {
		return nil
	}
	return &order.DependencyError{Target: target, CircuitOpen: c == grpcclient.ClassCircuitOpen, Answered: answeredWithError(err), Err: err}
}

// answeredWithError reports whether err is an answer with an unexpected
// error (INTERNAL, UNKNOWN, DATA_LOSS; also a client-side encoding
// failure, which gRPC reports as INTERNAL) rather than no answer.
func answeredWithError(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false // no status: a transport or context error
	}
	switch st.Code() {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return true
	}
	return false
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// Money converts an amount in minor units of currency cur.
func Money(v int64, cur string) *commonv1.Money {
	return &commonv1.Money{AmountMinor: v, CurrencyCode: cur}
}

// State converts a domain state.
func State(s order.State) orderv1.Order_State { return orderv1.Order_State(s) }

// StateFromProto converts a contract state.
func StateFromProto(s orderv1.Order_State) order.State { return order.State(s) }

// Address converts a domain address.
func Address(a order.Address) *commonv1.Address {
	return &commonv1.Address{
		Recipient: a.Recipient, Lines: a.Lines, Locality: a.Locality,
		AdministrativeArea: a.AdministrativeArea, PostalCode: a.PostalCode, RegionCode: a.RegionCode,
	}
}

// AddressFromProto converts a contract address.
func AddressFromProto(a *commonv1.Address) order.Address {
	return order.Address{
		Recipient: a.GetRecipient(), Lines: a.GetLines(), Locality: a.GetLocality(),
		AdministrativeArea: a.GetAdministrativeArea(), PostalCode: a.GetPostalCode(), RegionCode: a.GetRegionCode(),
	}
}

// Actor converts a domain actor.
func Actor(a order.Actor) *commonv1.AuditActor {
	if a == (order.Actor{}) {
		return nil
	}
	return &commonv1.AuditActor{Kind: a.Kind, Id: a.ID}
}

// Rejection converts a domain rejection (nil stays nil).
func Rejection(r *order.Rejection) *orderv1.OrderRejection {
	if r == nil {
		return nil
	}
	return &orderv1.OrderRejection{Reason: orderv1.OrderRejection_Reason(r.Reason), Message: r.Message, ErpCode: r.ERPCode}
}

// Order converts a domain order.
func Order(o *order.Order) *orderv1.Order {
	p := &orderv1.Order{
		Name:              "orders/" + o.ID,
		OrderId:           o.ID,
		CustomerId:        o.CustomerID,
		Channel:           o.Channel,
		CurrencyCode:      o.Currency,
		ShipTo:            Address(o.ShipTo),
		State:             State(o.State),
		Rejection:         Rejection(o.Rejection),
		ErpOrderReference: o.ERPOrderRef,
		CreateRequestId:   o.CreateRequestID,
		CustomerPoNumber:  o.CustomerPONumber,
		ReservationId:     o.ReservationID,
		Notes:             o.Notes,
		Totals: &orderv1.OrderTotals{
			Subtotal: Money(o.SubtotalMinor, o.Currency),
			Tax:      Money(o.TaxMinor, o.Currency),
			Total:    Money(o.TotalMinor, o.Currency),
		},
		ErpSubmission: &orderv1.ErpSubmission{
			AttemptCount:    int32(min(o.ERP.Attempts, 1<<31-1)),
			LastAttemptTime: ts(o.ERP.LastAttemptAt),
			LastError:       o.ERP.LastError,
		},
		CreateTime:  ts(o.CreatedAt),
		UpdateTime:  ts(o.UpdatedAt),
		ConfirmTime: ts(o.ConfirmedAt),
		Etag:        o.Etag(),
		// Coupons (issue #11): the entered codes and applied promotions.
		PromotionCodes:    o.PromotionCodes,
		AppliedPromotions: o.AppliedPromotions,
	}
	if o.State == order.StateAcceptedPendingERP {
		p.ErpSubmission.NextAttemptTime = ts(o.ERP.NextAttemptAt)
	}
	for _, l := range o.Lines {
		pl := &orderv1.OrderLine{
			LineId: l.ID, Sku: l.SKU, Quantity: l.Quantity, Unit: l.Unit,
			UnitPrice:       Money(l.UnitPriceMinor, o.Currency),
			ExtendedPrice:   Money(l.ExtendedMinor, o.Currency),
			PriceRuleId:     l.PriceRuleID,
			PriceQuoteId:    l.PriceQuoteID,
			ShippedQuantity: l.Shipped, DeliveredQuantity: l.Delivered, ReturnedQuantity: l.Returned,
		}
		for _, a := range l.Allocations {
			pl.Allocations = append(pl.Allocations, &orderv1.LineAllocation{
				WarehouseId: a.WarehouseID, AllocatedQuantity: a.Allocated,
				ShippedQuantity: a.Shipped, DeliveredQuantity: a.Delivered,
			})
		}
		p.Lines = append(p.Lines, pl)
	}
	for _, h := range o.History {
		p.StateHistory = append(p.StateHistory, &orderv1.OrderStateChange{
			PreviousState: State(h.From), State: State(h.To), OccurTime: ts(h.At),
			Actor: Actor(h.Actor), Reason: h.Reason, CorrelationId: h.CorrelationID,
		})
	}
	return p
}

func shipmentLines(ls []order.ShipmentLine) []*orderv1.ShipmentLineQuantity {
	out := make([]*orderv1.ShipmentLineQuantity, 0, len(ls))
	for _, l := range ls {
		out = append(out, &orderv1.ShipmentLineQuantity{LineId: l.LineID, Quantity: l.Quantity})
	}
	return out
}

// Event encodes a domain event as an outbox event. The outbox builds the
// order.v1 event message once it has assigned the metadata (event id,
// per-order sequence, occur time, correlation id), in the writing
// transaction.
func Event(ev order.Event) (outbox.Event, error) {
	o := ev.Order
	po := Order(o)
	prev := State(ev.PreviousState)
	var (
		subject string
		build   func(md *commonv1.EventMetadata) proto.Message
	)
	switch ev.Type {
	case order.EventAccepted:
		subject, build = eventstreams.OrderAccepted, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderAcceptedEvent{Metadata: md, Order: po}
		}
	case order.EventConfirmed:
		subject, build = eventstreams.OrderConfirmed, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderConfirmedEvent{Metadata: md, Order: po, PreviousState: prev, ErpOrderReference: o.ERPOrderRef}
		}
	case order.EventRejected:
		subject, build = eventstreams.OrderRejected, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderRejectedEvent{Metadata: md, Order: po, PreviousState: prev, Rejection: Rejection(o.Rejection)}
		}
	case order.EventCancelled:
		subject, build = eventstreams.OrderCancelled, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderCancelledEvent{Metadata: md, Order: po, PreviousState: prev, Reason: ev.Reason, Actor: Actor(ev.Actor)}
		}
	case order.EventPartiallyShipped:
		subject, build = eventstreams.OrderPartiallyShipped, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderPartiallyShippedEvent{Metadata: md, Order: po, PreviousState: prev,
				ShipmentId: ev.ShipmentID, WarehouseId: ev.WarehouseID, ShipmentLines: shipmentLines(ev.ShipmentLines)}
		}
	case order.EventShipped:
		subject, build = eventstreams.OrderShipped, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderShippedEvent{Metadata: md, Order: po, PreviousState: prev,
				ShipmentId: ev.ShipmentID, WarehouseId: ev.WarehouseID, ShipmentLines: shipmentLines(ev.ShipmentLines)}
		}
	case order.EventDelivered:
		subject, build = eventstreams.OrderDelivered, func(md *commonv1.EventMetadata) proto.Message {
			return &orderv1.OrderDeliveredEvent{Metadata: md, Order: po, PreviousState: prev, ShipmentId: ev.ShipmentID}
		}
	default:
		return outbox.Event{}, fmt.Errorf("orderpb: unknown event type %d", ev.Type)
	}
	return outbox.Event{
		AggregateType: AggregateType, AggregateID: o.ID, Subject: subject, Producer: Producer,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) { return build(md), nil },
	}, nil
}
