package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/opsevents"
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

// TestOperationsEventsPublished runs the service against a real NATS: an
// operator's reconciliation (the ops service's TriggerReconciliation: no
// snapshot entries) reads a fresh ERP snapshot for each run, and its audit
// record, naming the operator from the actor header, and the exception for
// the variance it finds reach the TRANSLOAD_OPS stream; so does the
// exception the housekeeping loop raises for an overdue stock event gap.
func TestOperationsEventsPublished(t *testing.T) {
	ns := natstest.Start(t)
	h := startHarness(t, testEnv(filepath.Join(t.TempDir(), "inventory.db"), map[string]string{
		"NATS_URL": ns.ClientURL(), "INVENTORY_STOCK_EVENT_GAP_TIMEOUT": "100ms",
	}), &fakeERP{})
	h.waitReady()
	ctx := ctxT(t)
	opCtx := opsevents.AppendActor(ctx, opsevents.Actor{Kind: opsevents.ActorOperator, ID: "key-ops"})

	// The WMS reports 25 more at WH-BER than the ERP snapshot says, and an
	// event 3 whose predecessor 2 never comes.
	receipt := func(seq, n int64) *inventoryv1.StockEvent {
		return &inventoryv1.StockEvent{EventId: fmt.Sprintf("r%d", seq), Sku: "SKU-00001", WarehouseCode: "WH-BER", Sequence: seq,
			Kind: inventoryv1.StockEvent_KIND_RECEIPT, Quantity: n, OccurTime: timestamppb.Now()}
	}
	if res, err := h.client.ApplyStockEvents(ctx, &inventoryv1.ApplyStockEventsRequest{
		RequestId: "se-1", SourceSystem: "wms", Events: []*inventoryv1.StockEvent{receipt(1, 25), receipt(3, 1)},
	}); err != nil || res.GetAppliedCount() != 1 || res.GetBufferedCount() != 1 {
		t.Fatalf("ApplyStockEvents = %v, %v", res, err)
	}
	_, snapshots := h.erp.calls()
	var runs []string
	for i := range 2 {
		started, err := h.client.StartReconciliation(opCtx, &inventoryv1.StartReconciliationRequest{
			RequestId: fmt.Sprintf("trigger-%d", i), SnapshotSource: "erp", WarehouseCodes: []string{"WH-BER"},
		})
		if err != nil {
			t.Fatalf("StartReconciliation: %v", err)
		}
		name := started.GetReconciliation().GetName()
		wait.Eventually(t, 10*time.Second, name+" finished", func() error {
			run, err := h.client.GetReconciliation(ctx, &inventoryv1.GetReconciliationRequest{Name: name})
			if err != nil {
				return err
			}
			return wait.Check(run.GetState() == inventoryv1.Reconciliation_STATE_SUCCEEDED && run.GetVarianceCount() == 1,
				"state %v, %d variances", run.GetState(), run.GetVarianceCount())
		})
		if _, got := h.erp.calls(); got != snapshots+i+1 {
			t.Errorf("after run %d the ERP served %d snapshots, want %d: each run reads a fresh one", i+1, got, snapshots+i+1)
		}
		runs = append(runs, name)
	}

	_, js := natstest.Connect(t, ns)
	var stream jetstream.Stream
	var err error
	wait.Eventually(t, 10*time.Second, "stream "+eventstreams.Ops.Name+" created", func() error {
		stream, err = js.Stream(ctx, eventstreams.Ops.Name)
		return err
	})
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	started := map[string]string{} // run → actor of its reconciliation.start
	raised := map[string]int{}     // run → INVENTORY_VARIANCE exceptions
	var gap *opsv1.ExceptionRaisedEvent
	for len(started) < 2 || raised[runs[0]]+raised[runs[1]] < 2 || gap == nil {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("waiting for the operations events (starts %v, exceptions %v): %v", started, raised, err)
		}
		switch msg.Subject() {
		case eventstreams.AuditRecorded:
			ev := &opsv1.AuditRecordedEvent{}
			if err := proto.Unmarshal(msg.Data(), ev); err != nil {
				t.Fatal(err)
			}
			if ev.GetAction() == "reconciliation.start" {
				started[ev.GetTarget()] = ev.GetActor().GetKind() + ":" + ev.GetActor().GetId()
			}
		case eventstreams.ExceptionRaised:
			ev := &opsv1.ExceptionRaisedEvent{}
			if err := proto.Unmarshal(msg.Data(), ev); err != nil {
				t.Fatal(err)
			}
			d := ev.GetDetails().AsMap()
			if ev.GetKind() == opsv1.Exception_KIND_STOCK_SEQUENCE_GAP {
				gap = ev
				continue
			}
			if ev.GetKind() != opsv1.Exception_KIND_INVENTORY_VARIANCE || ev.GetResource() != "stockLevels/SKU-00001@WH-BER" ||
				ev.GetSeverity() != opsv1.Exception_SEVERITY_HIGH || d["variance"] != float64(-25) || ev.GetMetadata().GetProducer() != "inventory" {
				t.Errorf("exception = %v", ev)
			}
			raised[d["reconciliation"].(string)]++
		}
	}
	for _, run := range runs {
		if started[run] != "operator:key-ops" || raised[run] != 1 {
			t.Errorf("%s: started by %q, %d exceptions; want operator:key-ops, 1", run, started[run], raised[run])
		}
	}
	if d := gap.GetDetails().AsMap(); gap.GetResource() != "stockLevels/SKU-00001@WH-BER" || d["expectedSequence"] != float64(2) ||
		d["receivedSequence"] != float64(3) || d["sourceSystem"] != "wms" {
		t.Errorf("gap exception = %v", gap)
	}
}
