package eventsin_test

import (
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	fulfillmentv1 "github.com/transload/transload/gen/transload/fulfillment/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/events"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/notify/internal/eventsin"
	"github.com/transload/transload/services/notify/internal/store/sqlstore"
)

func TestHandlerQueuesPerScope(t *testing.T) {
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	now := time.Now()
	for _, sub := range []*sqlstore.Subscription{
		{ID: "chan", Channel: "web", EventTypes: 1<<1 | 1<<2},
		{ID: "c1", Channel: "web", CustomerID: "C1", EventTypes: 1 << 1},
		{ID: "c2", Channel: "web", CustomerID: "C2", EventTypes: 1<<1 | 1<<2},
		{ID: "shop", Channel: "shop", EventTypes: 1<<1 | 1<<2},
	} {
		sub.TargetURI, sub.Secret, sub.State, sub.CreateTime = "https://x.example/", "whsec_AAAA", sqlstore.SubActive, now
		if _, _, err := s.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	h := eventsin.Handler(s, nil, nil)
	apply := func(ev events.Event) {
		t.Helper()
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return h(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	order := &orderv1.Order{OrderId: "O1", CustomerId: "C1", Channel: "web", State: orderv1.Order_STATE_CONFIRMED}
	ev := events.Event{ID: "e1", OccurredAt: now, CorrelationID: "corr", Payload: &orderv1.OrderConfirmedEvent{Order: order}}
	apply(ev)
	apply(ev) // a redelivery queues nothing more
	apply(events.Event{ID: "e2", OccurredAt: now, Payload: &fulfillmentv1.ShipmentUpdatedEvent{Shipment: &fulfillmentv1.Shipment{
		ShipmentId: "S1", OrderId: "O1", CustomerId: "C1", State: fulfillmentv1.Shipment_STATE_SHIPPED, TrackingNumber: "T1",
	}}})
	counts, err := s.PendingCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// chan: order + shipment; c1: order only (not subscribed to shipments);
	// c2 and shop: nothing.
	if counts["chan"] != 2 || counts["c1"] != 1 || counts["c2"] != 0 || counts["shop"] != 0 {
		t.Fatalf("pending = %v", counts)
	}
	log, _ := s.ListDeliveries(ctx, "chan", 0, 10)
	if len(log) != 2 || log[1].ID != eventsin.WebhookID("chan", "e1") || log[0].OrderingKey != "orders/O1" || log[1].OrderingKey != "orders/O1" {
		t.Fatalf("chan log = %+v", log)
	}
	var body map[string]any
	if err := json.Unmarshal(log[1].Body, &body); err != nil || body["deliveryId"] != log[1].ID || body["correlationId"] != "corr" {
		t.Fatalf("body = %s (%v)", log[1].Body, err)
	}
	if id := eventsin.WebhookID("a", "e"); id == eventsin.WebhookID("b", "e") || id == eventsin.WebhookID("a", "f") || len(id) != 36 || id[:4] != "msg_" {
		t.Fatal("webhook ids are not distinct per (subscription, event) or not msg_ + 32 hex")
	}
}

func TestHandlerQueuesReturnChanges(t *testing.T) {
	ctx := t.Context()
	db := sqldbtest.OpenSQLite(t)
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := sqlstore.New(db)
	for _, sub := range []*sqlstore.Subscription{
		{ID: "returns", Channel: "web", EventTypes: 1 << 3},
		{ID: "orders", Channel: "web", EventTypes: 1 << 1},
		{ID: "other", Channel: "web", CustomerID: "C2", EventTypes: 1 << 3},
	} {
		sub.TargetURI, sub.Secret, sub.State, sub.CreateTime = "https://x.example/", "whsec_AAAA", sqlstore.SubActive, time.Now()
		if _, _, err := s.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	h := eventsin.Handler(s, nil, nil)
	apply := func(ev events.Event) {
		t.Helper()
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return h(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	apply(events.Event{ID: "e1", OccurredAt: time.Now(), Payload: &orderv1.OrderAcceptedEvent{
		Order: &orderv1.Order{OrderId: "O1", CustomerId: "C1", Channel: "web"}}})
	apply(events.Event{ID: "e2", OccurredAt: time.Now(), Payload: &orderv1.ReturnAuthorizedEvent{
		ReturnAuthorization: &orderv1.ReturnAuthorization{ReturnAuthorizationId: "R1", OrderId: "O1", CustomerId: "C1",
			State: orderv1.ReturnAuthorization_STATE_AUTHORIZED,
			Lines: []*orderv1.ReturnLine{{Sku: "SKU-1", Quantity: 1, Reason: orderv1.ReturnReason_RETURN_REASON_DAMAGED}}}}})
	counts, _ := s.PendingCounts(ctx)
	if counts["returns"] != 1 || counts["orders"] != 1 || counts["other"] != 0 {
		t.Fatalf("pending = %v", counts)
	}
	log, _ := s.ListDeliveries(ctx, "returns", 0, 10)
	var body struct {
		EventType string `json:"eventType"`
		Return    struct {
			Name, State, RmaNumber string
			Lines                  []struct{ Reason string }
		} `json:"return"`
	}
	if err := json.Unmarshal(log[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.EventType != "WEBHOOK_EVENT_TYPE_RETURN_STATUS_CHANGED" || body.Return.Name != "orders/O1/returns/R1" ||
		body.Return.State != "STATE_AUTHORIZED" || body.Return.RmaNumber != "R1" || body.Return.Lines[0].Reason != "REASON_DAMAGED" {
		t.Fatalf("return webhook body %s", log[0].Body)
	}
	if log[0].OrderingKey != "orders/O1" {
		t.Fatalf("ordering key %q, want the order's", log[0].OrderingKey)
	}
}
