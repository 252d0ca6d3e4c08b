package eventsin_test

import (
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/notify/internal/payload"
)

// fuzzKinds are the events notify consumes, by the fuzzer's kind byte.
var fuzzKinds = []struct{ subject, typ string }{
	{eventstreams.OrderConfirmed, "transload.order.v1.OrderConfirmedEvent"},
	{eventstreams.OrderCancelled, "transload.order.v1.OrderCancelledEvent"},
	{eventstreams.ShipmentUpdated, "transload.fulfillment.v1.ShipmentUpdatedEvent"},
	{eventstreams.OrderReturnAuthorized, "transload.order.v1.ReturnAuthorizedEvent"},
}

// FuzzNotifyEventDecoding decodes arbitrary payloads of the events notify
// turns into webhooks, as its consumers do, and renders the webhook body
// for each: never a panic, a body is JSON, and an order's total and
// cancelled quantities are the exact sums (never wrapped: seed #0 has
// subtotal 1.5*2^62 and tax 2^62, which payload must refuse).
func FuzzNotifyEventDecoding(f *testing.F) {
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	m := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	f.Add(uint8(0), marshal(&orderv1.OrderConfirmedEvent{Order: &orderv1.Order{OrderId: "o1", ErpOrderReference: "E1",
		Totals: &orderv1.OrderTotals{Subtotal: m(1<<62 + 1<<61), Tax: m(1 << 62)},
		Lines:  []*orderv1.OrderLine{{Sku: "S", Quantity: -3, ShippedQuantity: 1 << 62}}}}))
	f.Add(uint8(1), marshal(&orderv1.OrderCancelledEvent{Order: &orderv1.Order{OrderId: "o1", State: 99,
		Lines: []*orderv1.OrderLine{{Sku: "S", Quantity: -1 << 63, ShippedQuantity: 1}, {Sku: "S", Quantity: -1 << 63, ShippedQuantity: 1}}}}))
	f.Add(uint8(2), marshal(&fulfillmentv1.ShipmentUpdatedEvent{Shipment: &fulfillmentv1.Shipment{OrderId: "o1",
		UpdateTime: &timestamppb.Timestamp{Seconds: 1 << 62}}}))
	f.Add(uint8(3), marshal(&orderv1.ReturnAuthorizedEvent{ReturnAuthorization: &orderv1.ReturnAuthorization{OrderId: "o1",
		Lines: []*orderv1.ReturnLine{{Quantity: -7, Reason: 42}}}}))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := fuzzKinds[int(kind)%len(fuzzKinds)]
		h := nats.Header{}
		h.Set(outbox.HeaderEventID, "evt-fuzz")
		h.Set(outbox.HeaderEventType, k.typ)
		ev, err := events.Decode(k.subject, h, data)
		if err != nil {
			return
		}
		pe := payload.Event{ID: ev.ID, Time: time.Unix(1_800_000_000, 0)}
		switch msg := ev.Payload.(type) {
		case *fulfillmentv1.ShipmentUpdatedEvent:
			pe.Shipment = msg.GetShipment()
			if t := pe.Shipment.GetUpdateTime(); t != nil {
				pe.Time = t.AsTime()
			}
		case *orderv1.ReturnAuthorizedEvent:
			pe.Return = msg.GetReturnAuthorization()
		case interface{ GetOrder() *orderv1.Order }:
			pe.Order = msg.GetOrder()
		}
		body, err := payload.Body(pe, "msg_1", "webhookSubscriptions/s1", false)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("body is not JSON: %q", body)
		}
		if pe.Order != nil {
			checkNoWrap(t, pe.Order)
		}
	})
}

// checkNoWrap fails t when the storefront order payload renders for o
// holds a total or a cancelled quantity that differs from the exact
// (unbounded) arithmetic, i.e. one that wrapped.
func checkNoWrap(t *testing.T, o *orderv1.Order) {
	t.Helper()
	out, err := payload.Order(o)
	if err != nil {
		t.Fatalf("Body accepted an order Order refuses: %v", err)
	}
	want := big.NewInt(out.GetSubtotal().GetAmountMinor())
	if out.GetTax() != nil {
		want.Add(want, big.NewInt(out.GetTax().GetAmountMinor()))
	}
	if got := big.NewInt(out.GetTotal().GetAmountMinor()); got.Cmp(want) != 0 {
		t.Fatalf("total %s, want subtotal + tax = %s (wrapped)", got, want)
	}
	for i, l := range out.GetLines() {
		if l.GetCancelledQuantity() == 0 {
			continue
		}
		want := new(big.Int).Sub(big.NewInt(l.GetQuantity()), big.NewInt(l.GetShippedQuantity()))
		if got := big.NewInt(l.GetCancelledQuantity()); got.Cmp(want) != 0 {
			t.Fatalf("line %d cancelled quantity %s, want quantity − shipped = %s (wrapped)", i, got, want)
		}
	}
}
