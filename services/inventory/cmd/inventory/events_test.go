package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/platform/testharness/wait"
)

// TestStockChangedPublished runs the service against a real embedded NATS
// JetStream server: the service creates its stream, and a reservation's
// StockChangedEvent (and ReservationCreatedEvent) reach it through the
// outbox relay.
func TestStockChangedPublished(t *testing.T) {
	ns := natstest.Start(t)
	h := startHarness(t, testEnv(filepath.Join(t.TempDir(), "inventory.db"), map[string]string{"NATS_URL": ns.ClientURL()}), &fakeERP{})
	h.waitReady()
	ctx := ctxT(t)

	res, err := h.client.ReserveStock(ctx, &inventoryv1.ReserveStockRequest{
		RequestId: "req-ev", ReferenceId: "order-ev", Channel: "web",
		Lines: []*inventoryv1.ReserveStockLine{{Sku: "SKU-00001", Quantity: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}

	_, js := natstest.Connect(t, ns)
	var stream jetstream.Stream
	wait.Eventually(t, 10*time.Second, "stream "+eventstreams.Inventory.Name+" created", func() error {
		stream, err = js.Stream(ctx, eventstreams.Inventory.Name)
		return err
	})
	if info, err := stream.Info(ctx); err != nil || info.Config.Subjects[0] != "transload.inventory.>" {
		t.Fatalf("stream info = %v, %v", info, err)
	}

	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{eventstreams.StockChanged, eventstreams.ReservationCreated},
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		stock   *inventoryv1.StockChangedEvent
		created *inventoryv1.ReservationCreatedEvent
		header  map[string]string
	)
	for stock == nil || created == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("waiting for the reservation's events: %v", err)
		}
		switch msg.Subject() {
		case eventstreams.StockChanged:
			ev := &inventoryv1.StockChangedEvent{}
			if err := proto.Unmarshal(msg.Data(), ev); err != nil {
				t.Fatal(err)
			}
			if ev.GetCause() == inventoryv1.StockChangeCause_STOCK_CHANGE_CAUSE_RESERVATION {
				stock = ev
				header = map[string]string{
					outbox.HeaderAggregateID: msg.Headers().Get(outbox.HeaderAggregateID),
					outbox.HeaderSequence:    msg.Headers().Get(outbox.HeaderSequence),
					outbox.HeaderEventType:   msg.Headers().Get(outbox.HeaderEventType),
				}
			}
		case eventstreams.ReservationCreated:
			created = &inventoryv1.ReservationCreatedEvent{}
			if err := proto.Unmarshal(msg.Data(), created); err != nil {
				t.Fatal(err)
			}
		}
	}
	if stock.GetSku() != "SKU-00001" || stock.GetWarehouseCode() != "WH-HAM" ||
		stock.GetPreviousQuantities().GetReserved() != 0 || stock.GetNewQuantities().GetReserved() != 3 ||
		stock.GetNewQuantities().GetAvailable() != 197 || stock.GetReference() != res.GetReservation().GetName() {
		t.Errorf("StockChangedEvent = %v", stock)
	}
	md := stock.GetMetadata()
	if md.GetSequence() != 2 || md.GetAggregateId() != "SKU-00001@WH-HAM" || md.GetAggregateType() != "stock_level" || md.GetProducer() != "inventory" {
		t.Errorf("StockChangedEvent metadata = %v", md)
	}
	if header[outbox.HeaderAggregateID] != "SKU-00001@WH-HAM" || header[outbox.HeaderSequence] != "2" ||
		header[outbox.HeaderEventType] != "transload.inventory.v1.StockChangedEvent" {
		t.Errorf("headers = %v", header)
	}
	if created.GetReservation().GetName() != res.GetReservation().GetName() || created.GetMetadata().GetSequence() != 1 {
		t.Errorf("ReservationCreatedEvent = %v", created)
	}
}
