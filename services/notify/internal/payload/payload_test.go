package payload

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	storefrontv1 "github.com/transload/transload/gen/transload/storefront/v1"
)

func TestBodyOrderAndShipment(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	b, err := Body(Event{
		ID: "ev-1", Type: storefrontv1.WebhookEventType_WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED, Time: at, CorrelationID: "corr-1",
		Order: &orderv1.Order{OrderId: "O-1", CustomerId: "C1", CurrencyCode: "EUR", State: orderv1.Order_STATE_CONFIRMED,
			ErpOrderReference: "ERP-9", Totals: &orderv1.OrderTotals{Subtotal: &commonv1.Money{AmountMinor: 1000, CurrencyCode: "EUR"},
				Tax: &commonv1.Money{AmountMinor: 190, CurrencyCode: "EUR"}}},
	}, "msg_abc", "webhookSubscriptions/s1", false)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	order, _ := got["order"].(map[string]any)
	for k, want := range map[string]any{
		"deliveryId": "msg_abc", "eventId": "ev-1", "eventType": "WEBHOOK_EVENT_TYPE_ORDER_STATUS_CHANGED",
		"eventTime": "2026-12-07T10:00:00Z", "correlationId": "corr-1", "subscription": "webhookSubscriptions/s1",
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (body %s)", k, got[k], want, b)
		}
	}
	if order["name"] != "orders/O-1" || order["state"] != "STATE_CONFIRMED" || order["erpOrderNumber"] != "ERP-9" {
		t.Errorf("order = %v", order)
	}
	if total, _ := order["total"].(map[string]any); total["amountMinor"] != "1190" {
		t.Errorf("total = %v, want 1190 minor units", order["total"])
	}

	b, err = Body(Event{ID: "ev-2", Type: storefrontv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SHIPMENT_STATUS_CHANGED, Time: at,
		Shipment: &fulfillmentv1.Shipment{ShipmentId: "S1", OrderId: "O-1", State: fulfillmentv1.Shipment_STATE_IN_TRANSIT,
			Carrier: "DHL", TrackingNumber: "TN1"}}, "msg_def", "webhookSubscriptions/s1", false)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	_ = json.Unmarshal(b, &got)
	sh, _ := got["shipment"].(map[string]any)
	if sh["name"] != "orders/O-1/shipments/S1" || sh["state"] != "STATE_SHIPPED" || sh["trackingNumber"] != "TN1" || sh["carrier"] != "DHL" {
		t.Errorf("shipment = %v", sh)
	}
	if _, err := Body(Event{ID: "ev-3"}, "x", "y", false); err == nil {
		t.Error("an event without a resource was encoded")
	}
}

// TestOrderRefusesWrappedAmounts: a total (subtotal + tax) or a cancelled
// quantity (quantity − shipped) beyond int64 is refused with
// ErrAmountOverflow, by Order and by Body, instead of wrapping; the
// largest sums that fit are still rendered exactly.
func TestOrderRefusesWrappedAmounts(t *testing.T) {
	m := func(n int64) *commonv1.Money { return &commonv1.Money{AmountMinor: n, CurrencyCode: "EUR"} }
	for name, o := range map[string]*orderv1.Order{
		"total above int64": {OrderId: "O-1", ErpOrderReference: "E1", Totals: &orderv1.OrderTotals{Subtotal: m(1<<62 + 1<<61), Tax: m(1 << 62)}},
		"total below int64": {OrderId: "O-1", ErpOrderReference: "E1", Totals: &orderv1.OrderTotals{Subtotal: m(-1 << 63), Tax: m(-1)}},
		"cancelled quantity below int64": {OrderId: "O-1", State: orderv1.Order_STATE_CANCELLED,
			Lines: []*orderv1.OrderLine{{Sku: "S", Quantity: -1 << 63, ShippedQuantity: 1}}},
		"cancelled quantity above int64": {OrderId: "O-1", State: orderv1.Order_STATE_REJECTED,
			Lines: []*orderv1.OrderLine{{Sku: "S", Quantity: 1 << 62, ShippedQuantity: -1<<62 - 1<<61}}},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := Order(o); !errors.Is(err, ErrAmountOverflow) {
				t.Fatalf("Order = %v, %v; want ErrAmountOverflow", out, err)
			}
			_, err := Body(Event{ID: "ev-x", Order: o}, "msg_x", "webhookSubscriptions/s1", false)
			if !errors.Is(err, ErrAmountOverflow) {
				t.Fatalf("Body error = %v, want ErrAmountOverflow", err)
			}
		})
	}
	out, err := Order(&orderv1.Order{OrderId: "O-2", ErpOrderReference: "E2", State: orderv1.Order_STATE_CANCELLED,
		Totals: &orderv1.OrderTotals{Subtotal: m(1<<63 - 2), Tax: m(1)},
		Lines:  []*orderv1.OrderLine{{Sku: "S", Quantity: 1<<63 - 1, ShippedQuantity: 0}, {Sku: "T", Quantity: -1, ShippedQuantity: 1<<63 - 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetTotal().GetAmountMinor() != 1<<63-1 {
		t.Errorf("total = %d, want %d", out.GetTotal().GetAmountMinor(), int64(1<<63-1))
	}
	if q := out.GetLines()[0].GetCancelledQuantity(); q != 1<<63-1 {
		t.Errorf("line 0 cancelled = %d", q)
	}
	if q := out.GetLines()[1].GetCancelledQuantity(); q != -1<<63 {
		t.Errorf("line 1 cancelled = %d, want %d", q, int64(-1<<63))
	}
}
