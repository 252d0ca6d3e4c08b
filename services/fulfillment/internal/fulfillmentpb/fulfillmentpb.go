// Package fulfillmentpb converts between the fulfilment domain and the
// protobuf contracts the service speaks: fulfillment.v1 resources, events
// and pushed WMS events, order.v1 OrderConfirmedEvent (input), wms.v1
// shipment requests and feed events, the inventory.v1 and order.v1 calls
// shipments cause, and the statuses of calls to those neighbours (the
// domain's dependency errors). The functions are pure.
package fulfillmentpb

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func etag(v int64) string { return `W/"` + strconv.FormatInt(v, 10) + `"` }

// AddressToProto converts an address.
func AddressToProto(a fulfillment.Address) *commonv1.Address {
	return &commonv1.Address{
		Recipient: a.Recipient, Lines: a.Lines, Locality: a.Locality,
		AdministrativeArea: a.AdministrativeArea, PostalCode: a.PostalCode, RegionCode: a.RegionCode,
	}
}

// AddressFromProto converts an address (nil gives the zero address).
func AddressFromProto(a *commonv1.Address) fulfillment.Address {
	return fulfillment.Address{
		Recipient: a.GetRecipient(), Lines: a.GetLines(), Locality: a.GetLocality(),
		AdministrativeArea: a.GetAdministrativeArea(), PostalCode: a.GetPostalCode(), RegionCode: a.GetRegionCode(),
	}
}

// RequestName returns the resource name of a fulfilment request.
func RequestName(orderID, id string) string {
	return "orders/" + orderID + "/fulfillmentRequests/" + id
}

// ShipmentName returns the resource name of a shipment.
func ShipmentName(orderID, id string) string {
	return "orders/" + orderID + "/shipments/" + id
}

// RequestToProto converts a fulfilment request.
func RequestToProto(r *fulfillment.Request) *fulfillmentv1.FulfillmentRequest {
	lines := make([]*fulfillmentv1.FulfillmentLine, 0, len(r.Lines))
	for _, l := range r.Lines {
		lines = append(lines, &fulfillmentv1.FulfillmentLine{
			OrderLineId: l.OrderLineID, Sku: l.SKU, Quantity: l.Quantity, ShippedQuantity: l.ShippedQuantity,
		})
	}
	return &fulfillmentv1.FulfillmentRequest{
		Name:                 RequestName(r.OrderID, r.ID),
		FulfillmentRequestId: r.ID,
		OrderId:              r.OrderID,
		CustomerId:           r.CustomerID,
		WarehouseId:          r.WarehouseID,
		ShipTo:               AddressToProto(r.ShipTo),
		Lines:                lines,
		State:                fulfillmentv1.FulfillmentRequest_State(r.State),
		WmsReference:         r.WMSReference,
		AttemptCount:         int32(min(r.AttemptCount, 1<<31-1)),
		LastError:            r.LastError,
		ReservationId:        r.ReservationID,
		SourceEventId:        r.SourceEventID,
		CancelReason:         r.CancelReason,
		CreateTime:           ts(r.CreateTime),
		UpdateTime:           ts(r.UpdateTime),
		AcknowledgeTime:      ts(r.AcknowledgeTime),
		Etag:                 etag(r.Version),
	}
}

// ShipmentToProto converts a shipment.
func ShipmentToProto(s *fulfillment.Shipment) *fulfillmentv1.Shipment {
	lines := make([]*fulfillmentv1.ShipmentLine, 0, len(s.Lines))
	for _, l := range s.Lines {
		lines = append(lines, &fulfillmentv1.ShipmentLine{OrderLineId: l.OrderLineID, Sku: l.SKU, Quantity: l.Quantity})
	}
	hist := make([]*fulfillmentv1.ShipmentStateChange, 0, len(s.History))
	for _, h := range s.History {
		hist = append(hist, &fulfillmentv1.ShipmentStateChange{
			State: fulfillmentv1.Shipment_State(h.State), OccurTime: ts(h.OccurTime), RecordTime: ts(h.RecordTime),
			WmsEventId: h.WMSEventID, Detail: h.Detail, Stale: h.Stale,
		})
	}
	return &fulfillmentv1.Shipment{
		Name:                 ShipmentName(s.OrderID, s.ID),
		ShipmentId:           s.ID,
		OrderId:              s.OrderID,
		CustomerId:           s.CustomerID,
		FulfillmentRequestId: s.RequestID,
		WarehouseId:          s.WarehouseID,
		WmsShipmentReference: s.WMSReference,
		Carrier:              s.Carrier,
		ServiceLevel:         s.ServiceLevel,
		TrackingNumber:       s.TrackingNumber,
		TrackingUrl:          s.TrackingURL,
		Lines:                lines,
		State:                fulfillmentv1.Shipment_State(s.State),
		StateHistory:         hist,
		ExceptionDetail:      s.ExceptionDetail,
		ReservationId:        s.ReservationID,
		ShipTime:             ts(s.ShipTime),
		DeliveryTime:         ts(s.DeliveryTime),
		CreateTime:           ts(s.CreateTime),
		UpdateTime:           ts(s.UpdateTime),
		Etag:                 etag(s.Version),
	}
}

// RequestsFromOrder builds the fulfilment requests of a confirmed order:
// one per warehouse that holds an allocation, with the allocated quantity
// of each line, in first-allocation order. eventID is the
// OrderConfirmedEvent's id.
//
// A line whose allocations add up to more than its quantity is refused
// (fulfillment.ErrInvalidArgument, which the order-event consumer
// dead-letters), so a malformed or hostile event cannot make a warehouse
// ship more than was ordered. Each allocation is checked against the
// quantity still open, the order service's own rule (order.allocate), so
// the sum never wraps int64. Fewer allocated than ordered is accepted (a
// backordered remainder ships later).
func RequestsFromOrder(o *orderv1.Order, eventID string, now time.Time) ([]*fulfillment.Request, error) {
	if o.GetOrderId() == "" {
		return nil, fmt.Errorf("%w: order without an id", fulfillment.ErrInvalidArgument)
	}
	byWH := map[string]*fulfillment.Request{}
	var out []*fulfillment.Request
	for _, l := range o.GetLines() {
		var allocated int64
		for _, a := range l.GetAllocations() {
			if a.GetAllocatedQuantity() <= 0 || a.GetWarehouseId() == "" {
				continue
			}
			if a.GetAllocatedQuantity() > l.GetQuantity()-allocated {
				return nil, fmt.Errorf("%w: order %s line %s allocates more than its quantity %d of %s",
					fulfillment.ErrInvalidArgument, o.GetOrderId(), l.GetLineId(), l.GetQuantity(), l.GetSku())
			}
			allocated += a.GetAllocatedQuantity()
			r := byWH[a.GetWarehouseId()]
			if r == nil {
				r = &fulfillment.Request{
					ID:              fulfillment.RequestID(o.GetOrderId(), a.GetWarehouseId()),
					OrderID:         o.GetOrderId(),
					CustomerID:      o.GetCustomerId(),
					WarehouseID:     a.GetWarehouseId(),
					ShipTo:          AddressFromProto(o.GetShipTo()),
					State:           fulfillment.RequestPending,
					ReservationID:   o.GetReservationId(),
					SourceEventID:   eventID,
					CustomerPO:      o.GetCustomerPoNumber(),
					CreateTime:      now,
					UpdateTime:      now,
					NextAttemptTime: now,
				}
				byWH[a.GetWarehouseId()] = r
				out = append(out, r)
			}
			r.Lines = append(r.Lines, fulfillment.Line{
				OrderLineID: l.GetLineId(), SKU: l.GetSku(), Quantity: a.GetAllocatedQuantity(),
			})
		}
	}
	return out, nil
}
