// Package payload turns the order and fulfillment events the notify
// service consumes into webhook bodies: a storefront.v1 WebhookDelivery
// holding the resource as the REST API shows it, plus the event id, type,
// time and correlation id, encoded as the REST API encodes JSON
// (lowerCamelCase names, enum names, unset fields omitted).
//
// The conversion from the process messages to the storefront messages is
// the gateway's (gateway/internal/grpcapi/convert.go); no service may
// import the gateway, so this package holds the small part of it a
// webhook needs: the order and the shipment. Keep both in step; the
// package test pins the fields a receiver relies on.
package payload

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

// Event is what a webhook is built from.
type Event struct {
	// ID is the source event id; Type its webhook event type.
	ID   string
	Type storefrontv1.WebhookEventType
	// Time is when the change happened (the WMS event time for shipments
	// when known, else the producer's event time).
	Time time.Time
	// CorrelationID of the request that caused the change.
	CorrelationID string
	// Order, Shipment or Return is the changed resource (one of them).
	Order    *orderv1.Order
	Shipment *fulfillmentv1.Shipment
	Return   *orderv1.ReturnAuthorization
}

// Body returns the JSON body of the delivery webhookID of ev to the
// subscription subscriptionName (`webhookSubscriptions/{id}`).
func Body(ev Event, webhookID, subscriptionName string, test bool) ([]byte, error) {
	d := &storefrontv1.WebhookDelivery{
		DeliveryId:    webhookID,
		EventType:     ev.Type,
		EventTime:     timestamppb.New(ev.Time.UTC()),
		Subscription:  subscriptionName,
		Test:          test,
		CorrelationId: ev.CorrelationID,
		EventId:       ev.ID,
	}
	switch {
	case ev.Order != nil:
		o, err := Order(ev.Order)
		if err != nil {
			return nil, fmt.Errorf("payload: event %s: %w", ev.ID, err)
		}
		d.Resource = &storefrontv1.WebhookDelivery_Order{Order: o}
	case ev.Shipment != nil:
		d.Resource = &storefrontv1.WebhookDelivery_Shipment{Shipment: Shipment(ev.Shipment)}
	case ev.Return != nil:
		d.Resource = &storefrontv1.WebhookDelivery_Return{Return: Return(ev.Return)}
	default:
		return nil, fmt.Errorf("payload: event %s carries no resource", ev.ID)
	}
	return protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false}.Marshal(d)
}

func money(minor int64, cur string) *commonv1.Money {
	return &commonv1.Money{AmountMinor: minor, CurrencyCode: cur}
}

func stateMessage(o *orderv1.Order) string {
	switch o.GetState() {
	case orderv1.Order_STATE_ACCEPTED_PENDING_ERP:
		return "Accepted, pending ERP confirmation"
	case orderv1.Order_STATE_CONFIRMED:
		return "Confirmed by ERP"
	case orderv1.Order_STATE_REJECTED:
		if m := o.GetRejection().GetMessage(); m != "" {
			return "Rejected by ERP: " + m
		}
		return "Rejected by ERP"
	case orderv1.Order_STATE_PARTIALLY_SHIPPED:
		return "Partially shipped"
	case orderv1.Order_STATE_SHIPPED:
		return "Shipped"
	case orderv1.Order_STATE_DELIVERED:
		return "Delivered"
	case orderv1.Order_STATE_CANCELLED:
		return "Cancelled"
	case orderv1.Order_STATE_UNSPECIFIED:
		return ""
	default:
		return ""
	}
}

// ErrAmountOverflow is returned for an order whose total (subtotal + tax)
// or a line's cancelled quantity (quantity − shipped) does not fit in an
// int64: no such order exists, so the event is hostile or corrupt, and a
// wrapped (negative or tiny) total must never reach a receiver. The
// consumer treats it as a poison event, as it does a payload it cannot
// decode.
var ErrAmountOverflow = errors.New("payload: amount overflows int64")

// addInt64 is a+b, or false when the sum does not fit in an int64.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// subInt64 is a−b, or false when the difference does not fit in an int64.
func subInt64(a, b int64) (int64, bool) {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		return 0, false
	}
	return d, true
}

// Order is the storefront Order of o, as GetOrder shows it. It returns
// ErrAmountOverflow (wrapped) when the total or a cancelled quantity
// would wrap.
func Order(o *orderv1.Order) (*storefrontv1.Order, error) {
	cur := o.GetCurrencyCode()
	out := &storefrontv1.Order{
		Name:                o.GetName(),
		CustomerId:          o.GetCustomerId(),
		ShipTo:              o.GetShipTo(),
		PurchaseOrderNumber: o.GetCustomerPoNumber(),
		CurrencyCode:        cur,
		Note:                o.GetNotes(),
		State:               storefrontv1.Order_State(storefrontv1.Order_State_value[o.GetState().String()]),
		StateMessage:        stateMessage(o),
		Subtotal:            money(o.GetTotals().GetSubtotal().GetAmountMinor(), cur),
		ShippingCharge:      money(0, cur),
		ErpOrderNumber:      o.GetErpOrderReference(),
		CreateTime:          o.GetCreateTime(),
		UpdateTime:          o.GetUpdateTime(),
		Etag:                o.GetEtag(),
	}
	if out.Name == "" && o.GetOrderId() != "" {
		out.Name = "orders/" + o.GetOrderId()
	}
	total := out.GetSubtotal().GetAmountMinor()
	if o.GetErpOrderReference() != "" && o.GetTotals().GetTax() != nil {
		out.Tax = money(o.GetTotals().GetTax().GetAmountMinor(), cur)
		sum, ok := addInt64(total, out.GetTax().GetAmountMinor())
		if !ok {
			return nil, fmt.Errorf("%w: order %s subtotal %d + tax %d", ErrAmountOverflow, o.GetOrderId(), total, out.GetTax().GetAmountMinor())
		}
		total = sum
	}
	out.Total = money(total, cur)
	closed := o.GetState() == orderv1.Order_STATE_CANCELLED || o.GetState() == orderv1.Order_STATE_REJECTED
	if o.GetState() == orderv1.Order_STATE_CANCELLED {
		for _, h := range slices.Backward(o.GetStateHistory()) {
			if h.GetState() == orderv1.Order_STATE_CANCELLED {
				out.CancelReason = h.GetReason()
				break
			}
		}
	}
	for _, l := range o.GetLines() {
		line := &storefrontv1.OrderLine{
			Sku: l.GetSku(), Quantity: l.GetQuantity(),
			UnitPrice: l.GetUnitPrice(), ExtendedPrice: l.GetExtendedPrice(),
			ShippedQuantity: l.GetShippedQuantity(),
		}
		if closed {
			c, ok := subInt64(l.GetQuantity(), l.GetShippedQuantity())
			if !ok {
				return nil, fmt.Errorf("%w: order %s line %s quantity %d − shipped %d", ErrAmountOverflow, o.GetOrderId(), l.GetSku(), l.GetQuantity(), l.GetShippedQuantity())
			}
			line.CancelledQuantity = c
		}
		out.Lines = append(out.Lines, line)
	}
	return out, nil
}

// Shipment is the storefront Shipment of sh, as ListShipments shows it.
func Shipment(sh *fulfillmentv1.Shipment) *storefrontv1.Shipment {
	name := sh.GetName()
	if name == "" || strings.HasPrefix(name, "orders/-/") {
		name = fmt.Sprintf("orders/%s/shipments/%s", sh.GetOrderId(), sh.GetShipmentId())
	}
	state := storefrontv1.Shipment_STATE_PENDING
	switch sh.GetState() {
	case fulfillmentv1.Shipment_STATE_PICKED:
		state = storefrontv1.Shipment_STATE_PICKING
	case fulfillmentv1.Shipment_STATE_PACKED:
		state = storefrontv1.Shipment_STATE_PACKED
	case fulfillmentv1.Shipment_STATE_SHIPPED, fulfillmentv1.Shipment_STATE_IN_TRANSIT:
		state = storefrontv1.Shipment_STATE_SHIPPED
	case fulfillmentv1.Shipment_STATE_DELIVERED:
		state = storefrontv1.Shipment_STATE_DELIVERED
	case fulfillmentv1.Shipment_STATE_EXCEPTION:
		state = storefrontv1.Shipment_STATE_DELIVERY_EXCEPTION
	case fulfillmentv1.Shipment_STATE_UNSPECIFIED:
	}
	out := &storefrontv1.Shipment{
		Name: name, Warehouse: sh.GetWarehouseId(), Carrier: sh.GetCarrier(), ServiceLevel: sh.GetServiceLevel(),
		TrackingNumber: sh.GetTrackingNumber(), TrackingUri: sh.GetTrackingUrl(), State: state,
		ShipTime: sh.GetShipTime(), DeliveryTime: sh.GetDeliveryTime(),
		CreateTime: sh.GetCreateTime(), UpdateTime: sh.GetUpdateTime(),
	}
	for _, l := range sh.GetLines() {
		out.Lines = append(out.Lines, &storefrontv1.ShipmentLine{Sku: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return out
}
