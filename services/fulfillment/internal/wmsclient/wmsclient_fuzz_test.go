package wmsclient_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wmsv1 "github.com/transload/transload/gen/transload/wms/v1"
	"github.com/transload/transload/platform/testharness/answerconn"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/wmsclient"
)

// FuzzWMSAnswers feeds fulfillment's WMS client a hostile shipment event
// (unknown states, negative, huge and repeated lines, out-of-range
// times, huge strings) and a hostile CreateShipmentRequest answer, and
// applies the event to a request of 5 of line l1 (2 shipped already) and
// 3 of l2: never a panic; an applied event leaves every line shipped
// within 0..its quantity (a quantity past 2^63 is refused, not wrapped)
// and a ship time in the Timestamp range; an answer is accepted only for
// OUTCOME_ACCEPTED.
func FuzzWMSAnswers(f *testing.F) {
	shipped, delivered := int32(wmsv1.ShipmentRequest_STATE_SHIPPED), int32(wmsv1.ShipmentRequest_STATE_DELIVERED)
	f.Add(shipped, "l1", int64(3), "l1", int64(1), int64(1_700_000_000), int32(1))
	f.Add(shipped, "l1", int64(1<<63-1), "l2", int64(1), int64(0), int32(2))        // 2 shipped + 2^63-1 wraps
	f.Add(shipped, "l1", int64(1<<62), "l1", int64(1<<62), int64(1<<62), int32(7))  // repeated lines summing to 2^63
	f.Add(int32(99), "l9", int64(-4), "", int64(0), int64(-1<<62), int32(-1))       // unknown state and line
	f.Add(delivered, "l2", int64(3), "l2", int64(0), int64(253402300800), int32(3)) // year 10000
	f.Add(int32(wmsv1.ShipmentRequest_STATE_CANCELLED), "", int64(0), "", int64(0), int64(0), int32(0))
	f.Fuzz(func(t *testing.T, state int32, id1 string, q1 int64, id2 string, q2, sec int64, outcome int32) {
		ctx := context.Background()
		ev := &wmsv1.ShipmentEvent{EventId: "e1", ShipmentRequestId: "r1", WarehouseCode: "W1", ShipmentId: "S1",
			State: wmsv1.ShipmentRequest_State(state), OccurTime: &timestamppb.Timestamp{Seconds: sec},
			Lines: []*wmsv1.ShipmentEventLine{{LineId: id1, Quantity: q1}, {LineId: id2, Quantity: q2}}}
		c := wmsclient.New(answerconn.Conn{Answer: &wmsv1.ListShipmentEventsResponse{ShipmentEvents: []*wmsv1.ShipmentEvent{ev}}})
		page, err := c.ShipmentEvents(ctx, "", 10)
		if err != nil {
			return
		}
		if len(page.Events) != 1 {
			t.Fatalf("%d events for 1", len(page.Events))
		}
		if w := page.Events[0]; w.Kind == fulfillment.WMSEventShipment {
			req := &fulfillment.Request{ID: "r1", OrderID: "o1", WarehouseID: "W1", State: fulfillment.RequestAcknowledged,
				Lines: []fulfillment.Line{{OrderLineID: "l1", SKU: "A", Quantity: 5, ShippedQuantity: 2}, {OrderLineID: "l2", SKU: "B", Quantity: 3}}}
			out, err := fulfillment.ApplyShipmentEvent(req, nil, w.Shipment, time.Unix(1_800_000_000, 0).UTC())
			if err == nil {
				for _, l := range out.Request.Lines {
					if l.ShippedQuantity < 0 || l.ShippedQuantity > l.Quantity {
						t.Fatalf("line %s shipped %d of %d after lines %s:%d %s:%d", l.OrderLineID, l.ShippedQuantity, l.Quantity, id1, q1, id2, q2)
					}
				}
				if st := out.Shipment.ShipTime; !st.IsZero() && !timestamppb.New(st).IsValid() {
					t.Fatalf("ship time %v out of range", st)
				}
			}
		}

		ans, err := wmsclient.New(answerconn.Conn{Answer: &wmsv1.CreateShipmentRequestResponse{
			Outcome: wmsv1.CreateShipmentRequestResponse_Outcome(outcome), WmsReference: id1, RejectionMessage: id2,
		}}).CreateShipmentRequest(ctx, &fulfillment.Request{ID: "r1"})
		if err == nil && ans.Accepted != (outcome == int32(wmsv1.CreateShipmentRequestResponse_OUTCOME_ACCEPTED)) {
			t.Fatalf("answer %+v for outcome %d", ans, outcome)
		}
	})
}
