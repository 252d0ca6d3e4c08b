package fulfillmentpb

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// CommitToProto builds the inventory CommitReservation call.
func CommitToProto(c fulfillment.Commit) *inventoryv1.CommitReservationRequest {
	var lines []*inventoryv1.CommitLine
	for _, l := range c.Lines {
		lines = append(lines, &inventoryv1.CommitLine{Sku: l.SKU, Quantity: l.Quantity})
	}
	return &inventoryv1.CommitReservationRequest{
		Name:          "reservations/" + c.ReservationID,
		RequestId:     c.RequestID,
		WarehouseCode: c.WarehouseID,
		ShipmentId:    c.ShipmentID,
		Lines:         lines,
	}
}

// CommitFromProto is the inverse of CommitToProto.
func CommitFromProto(req *inventoryv1.CommitReservationRequest) fulfillment.Commit {
	c := fulfillment.Commit{
		ReservationID: strings.TrimPrefix(req.GetName(), "reservations/"),
		RequestID:     req.GetRequestId(), WarehouseID: req.GetWarehouseCode(), ShipmentID: req.GetShipmentId(),
	}
	for _, l := range req.GetLines() {
		c.Lines = append(c.Lines, fulfillment.ShipmentLine{SKU: l.GetSku(), Quantity: l.GetQuantity()})
	}
	return c
}

// ProgressToProto builds the order RecordShipmentProgress call.
func ProgressToProto(p fulfillment.Progress) *orderv1.RecordShipmentProgressRequest {
	milestone := orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED
	if p.Delivered {
		milestone = orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED
	}
	lines := make([]*orderv1.ShipmentLineQuantity, 0, len(p.Lines))
	for _, l := range p.Lines {
		lines = append(lines, &orderv1.ShipmentLineQuantity{LineId: l.OrderLineID, Quantity: l.Quantity})
	}
	return &orderv1.RecordShipmentProgressRequest{
		Name:                 "orders/" + p.OrderID,
		EventId:              p.EventID,
		ShipmentId:           p.ShipmentID,
		FulfillmentRequestId: p.RequestID,
		WarehouseId:          p.WarehouseID,
		Milestone:            milestone,
		Lines:                lines,
		TrackingNumber:       p.TrackingNumber,
		OccurTime:            timestamppb.New(p.OccurTime),
	}
}

// ProgressFromProto is the inverse of ProgressToProto.
func ProgressFromProto(req *orderv1.RecordShipmentProgressRequest) fulfillment.Progress {
	p := fulfillment.Progress{
		OrderID: strings.TrimPrefix(req.GetName(), "orders/"), EventID: req.GetEventId(), ShipmentID: req.GetShipmentId(),
		RequestID: req.GetFulfillmentRequestId(), WarehouseID: req.GetWarehouseId(),
		Delivered:      req.GetMilestone() == orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED,
		TrackingNumber: req.GetTrackingNumber(), OccurTime: timeOf(req.GetOccurTime()),
		Lines: make([]fulfillment.ShipmentLine, 0, len(req.GetLines())),
	}
	for _, l := range req.GetLines() {
		p.Lines = append(p.Lines, fulfillment.ShipmentLine{OrderLineID: l.GetLineId(), Quantity: l.GetQuantity()})
	}
	return p
}

// EncodeEffect returns the stored form of an effect's call: the protobuf
// encoding of the neighbour's request, as every version has stored it; an
// expected return is stored as the domain's JSON, which keeps the order
// line ids the wms.v1 request has no field for.
func EncodeEffect(e fulfillment.Effect) ([]byte, error) {
	switch {
	case e.Kind == fulfillment.EffectCommitReservation && e.Commit != nil:
		return proto.Marshal(CommitToProto(*e.Commit))
	case e.Kind == fulfillment.EffectRecordShipmentProgress && e.Progress != nil:
		return proto.Marshal(ProgressToProto(*e.Progress))
	case (e.Kind == fulfillment.EffectRegisterExpectedReturn || e.Kind == fulfillment.EffectCancelExpectedReturn) && e.Return != nil:
		return json.Marshal(e.Return)
	case e.Kind == fulfillment.EffectRestock && e.Restock != nil:
		return proto.Marshal(RestockToProto(*e.Restock))
	case e.Kind == fulfillment.EffectRecordReturnReceipt && e.Receipt != nil:
		return proto.Marshal(ReceiptReportToProto(*e.Receipt))
	default:
		return nil, fmt.Errorf("%w: effect %s %q without its call", fulfillment.ErrInvalidArgument, e.Kind, e.Key)
	}
}

// DecodeEffect reads the call of e (by its Kind) from its stored form.
func DecodeEffect(e *fulfillment.Effect, payload []byte) error {
	switch e.Kind {
	case fulfillment.EffectCommitReservation:
		var req inventoryv1.CommitReservationRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return fmt.Errorf("decode %s effect %q: %w", e.Kind, e.Key, err)
		}
		c := CommitFromProto(&req)
		e.Commit = &c
	case fulfillment.EffectRecordShipmentProgress:
		var req orderv1.RecordShipmentProgressRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return fmt.Errorf("decode %s effect %q: %w", e.Kind, e.Key, err)
		}
		p := ProgressFromProto(&req)
		e.Progress = &p
	case fulfillment.EffectRegisterExpectedReturn, fulfillment.EffectCancelExpectedReturn:
		var er fulfillment.ExpectedReturn
		if err := json.Unmarshal(payload, &er); err != nil {
			return fmt.Errorf("decode %s effect %q: %w", e.Kind, e.Key, err)
		}
		e.Return = &er
	case fulfillment.EffectRestock:
		var req inventoryv1.ApplyStockEventsRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return fmt.Errorf("decode %s effect %q: %w", e.Kind, e.Key, err)
		}
		r := RestockFromProto(&req)
		e.Restock = &r
	case fulfillment.EffectRecordReturnReceipt:
		var req orderv1.RecordReturnReceiptRequest
		if err := proto.Unmarshal(payload, &req); err != nil {
			return fmt.Errorf("decode %s effect %q: %w", e.Kind, e.Key, err)
		}
		p := ReceiptReportFromProto(&req)
		e.Receipt = &p
	default:
		return fmt.Errorf("unknown effect kind %q", e.Kind)
	}
	return nil
}
