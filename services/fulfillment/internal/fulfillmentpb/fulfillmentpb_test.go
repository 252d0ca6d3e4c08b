package fulfillmentpb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

func TestRequestsFromOrder(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	o := &orderv1.Order{
		OrderId: "O-1", CustomerId: "C0001", ReservationId: "R-1", CustomerPoNumber: "PO-7",
		ShipTo: &commonv1.Address{Recipient: "Ada", Lines: []string{"Street 1"}, RegionCode: "DE"},
		Lines: []*orderv1.OrderLine{
			{LineId: "1", Sku: "A", Quantity: 5, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-MUC", AllocatedQuantity: 2}, {WarehouseId: "WH-HAM", AllocatedQuantity: 3}}},
			{LineId: "2", Sku: "B", Quantity: 1, Allocations: []*orderv1.LineAllocation{{WarehouseId: "WH-HAM", AllocatedQuantity: 1}, {WarehouseId: "WH-BER", AllocatedQuantity: 0}}},
		},
	}
	got, err := fulfillmentpb.RequestsFromOrder(o, "ev-1", now)
	if err != nil {
		t.Fatal(err)
	}
	base := fulfillment.Request{
		OrderID: "O-1", CustomerID: "C0001", ReservationID: "R-1", SourceEventID: "ev-1", CustomerPO: "PO-7",
		ShipTo: fulfillment.Address{Recipient: "Ada", Lines: []string{"Street 1"}, RegionCode: "DE"},
		State:  fulfillment.RequestPending, CreateTime: now, UpdateTime: now, NextAttemptTime: now,
	}
	muc, ham := base, base
	muc.ID, muc.WarehouseID = "FR-O-1-WH-MUC", "WH-MUC"
	muc.Lines = []fulfillment.Line{{OrderLineID: "1", SKU: "A", Quantity: 2}}
	ham.ID, ham.WarehouseID = "FR-O-1-WH-HAM", "WH-HAM"
	ham.Lines = []fulfillment.Line{{OrderLineID: "1", SKU: "A", Quantity: 3}, {OrderLineID: "2", SKU: "B", Quantity: 1}}
	if diff := cmp.Diff([]*fulfillment.Request{&muc, &ham}, got); diff != "" {
		t.Fatalf("requests (-want +got):\n%s", diff)
	}
	if _, err := fulfillmentpb.RequestsFromOrder(&orderv1.Order{}, "ev", now); err == nil {
		t.Fatal("order without id accepted")
	}
}

func TestProgressAndCommitRequests(t *testing.T) {
	sh := &fulfillment.Shipment{
		ID: "S-1", OrderID: "O-1", RequestID: "FR-O-1-WH-HAM", WarehouseID: "WH-HAM", ReservationID: "R-1", TrackingNumber: "T",
		Lines: []fulfillment.ShipmentLine{{OrderLineID: "1", SKU: "A", Quantity: 2}, {OrderLineID: "2", SKU: "A", Quantity: 1}},
	}
	c := fulfillmentpb.CommitRequest(sh)
	if c.GetName() != "reservations/R-1" || c.GetShipmentId() != "S-1" || c.GetRequestId() != "commit-S-1" ||
		len(c.GetLines()) != 1 || c.GetLines()[0].GetQuantity() != 3 {
		t.Fatalf("commit = %v", c)
	}
	p := fulfillmentpb.ProgressRequest(sh, true, "ev-9", time.Unix(0, 0))
	if p.GetName() != "orders/O-1" || p.GetMilestone() != orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED ||
		p.GetEventId() != "ev-9" || len(p.GetLines()) != 2 || p.GetTrackingNumber() != "T" {
		t.Fatalf("progress = %v", p)
	}
}
