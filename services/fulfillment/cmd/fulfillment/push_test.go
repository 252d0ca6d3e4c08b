package main

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/testharness/wait"
)

// TestApplyWmsEventsPush: a push adapter reports milestones through
// ApplyWmsEvents; they drive the same shipment, inventory and order
// effects as the polled feed (a shipment shipped and delivered in one
// batch is one DELIVERED report, which implies shipped), and a resent
// batch changes nothing.
func TestApplyWmsEventsPush(t *testing.T) {
	m := startMesh(t, nil)
	seq := m.publish(t, confirmedOrder("O-T5"), "ev-t5", "")
	m.waitConsumed(t, seq)
	id := "FR-O-T5-WH-MUC"
	m.waitAtWMS(t, id)
	update := func(eventID string, state fulfillmentv1.Shipment_State) *fulfillmentv1.WmsEvent {
		return &fulfillmentv1.WmsEvent{EventId: eventID, OccurTime: timestamppb.New(time.Now()), WarehouseId: "WH-MUC",
			Payload: &fulfillmentv1.WmsEvent_ShipmentUpdate{ShipmentUpdate: &fulfillmentv1.WmsShipmentUpdate{
				FulfillmentRequestId: id, WmsShipmentReference: "PUSH-1", State: state, Carrier: "UPS", TrackingNumber: "1Z",
				Lines: []*fulfillmentv1.ShipmentLine{{OrderLineId: "1", Sku: "SKU-00001", Quantity: 2}},
			}}}
	}
	req := &fulfillmentv1.ApplyWmsEventsRequest{Source: "wms-push", Cursor: "42", Events: []*fulfillmentv1.WmsEvent{
		update("push-1", fulfillmentv1.Shipment_STATE_SHIPPED), update("push-2", fulfillmentv1.Shipment_STATE_DELIVERED),
	}}
	for round, want := range []fulfillmentv1.WmsEventResult_Outcome{fulfillmentv1.WmsEventResult_OUTCOME_APPLIED, fulfillmentv1.WmsEventResult_OUTCOME_DUPLICATE} {
		res, err := m.api.ApplyWmsEvents(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.GetCursor() != "42" || len(res.GetResults()) != 2 {
			t.Fatalf("round %d: %v", round, res)
		}
		for _, r := range res.GetResults() {
			if r.GetOutcome() != want {
				t.Fatalf("round %d: %v, want %v", round, r, want)
			}
		}
	}
	wait.Eventually(t, patience, "order told delivered, with the shipped lines", func() error {
		calls := m.orders.calls()
		if len(calls) != 1 {
			return fmt.Errorf("%d progress calls", len(calls))
		}
		if c := calls[0]; c.GetMilestone() != orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED ||
			len(c.GetLines()) != 1 || c.GetLines()[0].GetLineId() != "1" || c.GetLines()[0].GetQuantity() != 2 {
			return fmt.Errorf("progress %v", c)
		}
		if n := len(m.inventory.calls()); n != 1 {
			return fmt.Errorf("%d commits", n)
		}
		return nil
	})
	_, err := m.api.ApplyWmsEvents(t.Context(), &fulfillmentv1.ApplyWmsEventsRequest{Source: "wms-push"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("empty batch: %v", err)
	}
}
