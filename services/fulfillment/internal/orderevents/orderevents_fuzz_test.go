package orderevents_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
	"github.com/transload/transload/services/fulfillment/internal/fulfillmentpb"
)

// fuzzHeader is the header the relay sets, for a payload of type typ.
func fuzzHeader(typ string) nats.Header {
	h := nats.Header{}
	h.Set(outbox.HeaderEventID, "evt-fuzz")
	h.Set(outbox.HeaderEventType, typ)
	h.Set(outbox.HeaderSequence, "1")
	return h
}

func mustMarshal(f *testing.F, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzOrderEventDecoding decodes arbitrary payloads of the two order
// events fulfillment consumes, as the consumer does, and turns them into
// fulfilment requests and expected returns: never a panic; a request
// names its warehouse and order and carries positive quantities only.
func FuzzOrderEventDecoding(f *testing.F) {
	line := func(id, sku string, qty int64, allocs ...*orderv1.LineAllocation) *orderv1.OrderLine {
		return &orderv1.OrderLine{LineId: id, Sku: sku, Quantity: qty, Allocations: allocs}
	}
	alloc := func(wh string, q int64) *orderv1.LineAllocation {
		return &orderv1.LineAllocation{WarehouseId: wh, AllocatedQuantity: q}
	}
	confirmed := func(lines ...*orderv1.OrderLine) []byte {
		return mustMarshal(f, &orderv1.OrderConfirmedEvent{Order: &orderv1.Order{OrderId: "o1", Lines: lines}})
	}
	f.Add(false, confirmed(line("l1", "SKU", 3, alloc("W1", 2), alloc("W2", 1))))
	f.Add(false, confirmed(line("l1", "SKU", -5, alloc("W1", 2))))                                      // negative quantity
	f.Add(false, confirmed(line("l1", "SKU", 1<<62, alloc("W1", 1<<62), alloc("W1", 1<<62))))           // over-allocation near overflow
	f.Add(false, confirmed(line("l1", "SKU", 2, alloc("W1", 1)), line("l1", "SKU", 2, alloc("W1", 1)))) // duplicate lines
	f.Add(false, confirmed(line("l1", string(make([]byte, 1<<12)), 1, alloc("", 1))))                   // huge string, no warehouse
	f.Add(true, mustMarshal(f, &orderv1.ReturnAuthorizedEvent{ReturnAuthorization: &orderv1.ReturnAuthorization{
		ReturnAuthorizationId: "r1", OrderId: "o1",
		Lines: []*orderv1.ReturnLine{{LineId: "r1-1", OrderLineId: "l1", Quantity: -1, Reason: 99}},
	}}))
	f.Add(true, []byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, isReturn bool, data []byte) {
		subject, typ := eventstreams.OrderConfirmed, "transload.order.v1.OrderConfirmedEvent"
		if isReturn {
			subject, typ = eventstreams.OrderReturnAuthorized, "transload.order.v1.ReturnAuthorizedEvent"
		}
		ev, err := events.Decode(subject, fuzzHeader(typ), data)
		if err != nil {
			return
		}
		now := time.Unix(1_800_000_000, 0).UTC()
		if isReturn {
			rma := ev.Payload.(*orderv1.ReturnAuthorizedEvent).GetReturnAuthorization()
			lines := fulfillmentpb.ReturnLinesFromAuthorization(rma)
			reqs := []*fulfillment.Request{{WarehouseID: "W1", Lines: []fulfillment.Line{{OrderLineID: "l1", SKU: "SKU", Quantity: 1}}}}
			_, _ = fulfillment.ExpectedReturnsFor(rma.GetReturnAuthorizationId(), rma.GetOrderId(), lines, reqs, now)
			return
		}
		o := ev.Payload.(*orderv1.OrderConfirmedEvent).GetOrder()
		reqs, err := fulfillmentpb.RequestsFromOrder(o, ev.ID, now)
		if err != nil {
			return
		}
		for _, r := range reqs {
			if r.WarehouseID == "" || r.OrderID != o.GetOrderId() {
				t.Fatalf("request %+v: no warehouse or another order", r)
			}
			for _, l := range r.Lines {
				if l.Quantity <= 0 {
					t.Fatalf("request for %s carries quantity %d", r.WarehouseID, l.Quantity)
				}
			}
		}
	})
}
