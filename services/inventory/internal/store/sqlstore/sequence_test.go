package sqlstore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/platform/testharness/fakeclock"
	"github.com/transload/transload/platform/testharness/natstest"
	"github.com/transload/transload/services/inventory/internal/events"
	"github.com/transload/transload/services/inventory/internal/inventory"
	"github.com/transload/transload/services/inventory/internal/store/storetest"
)

// TestStockChangedSequenceIsRevision drives every kind of stock level
// change (initial load, reservation, commit, release, expiry, backorder
// allocation, stock events creating a level and clamping below zero,
// reconciliation correction), relays the outbox to JetStream and checks
// what the inventory contract promises and the outbox alone cannot: the
// StockChangedEvents of each level carry metadata sequences 1..revision,
// in order, so metadata.sequence always equals the level's revision. The
// variance events of a level keep their own sequence and say
// "stock_level" in their metadata.
func TestStockChangedSequenceIsRevision(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		st := open(t, db)
		ctx := t.Context()
		clock := fakeclock.New(fakeclock.Start)
		svc := inventory.NewService(st, inventory.WithClock(clock.Now), inventory.WithMaxHoldTTL(time.Hour))
		t.Cleanup(svc.Close)
		if _, err := st.LoadInitial(ctx, storetest.Warehouses(), storetest.Snapshot(), clock.Now()); err != nil {
			t.Fatal(err)
		}
		svc.MarkLoaded()
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		line := func(sku string, n int64) []inventory.ReserveLine {
			return []inventory.ReserveLine{{SKU: sku, Quantity: n}}
		}

		r, _, err := svc.Reserve(ctx, inventory.ReserveParams{RequestID: "r1", ReferenceID: "o1", Channel: "web", AllowSplit: true,
			Lines: line(storetest.SKUA, 6)})
		must("reserve", err)
		_, err = svc.Commit(ctx, inventory.CommitParams{ID: r.ID, RequestID: "c1", WarehouseCode: "WH-HAM", ShipmentID: "s1",
			Lines: []inventory.CommitLine{{SKU: storetest.SKUA, Quantity: 2}}})
		must("commit", err)
		_, err = svc.Release(ctx, inventory.ReleaseParams{ID: r.ID, RequestID: "rel1"})
		must("release", err)
		_, _, err = svc.Reserve(ctx, inventory.ReserveParams{RequestID: "h1", ReferenceID: "cart-1", Channel: "web",
			HoldTTL: 10 * time.Minute, Lines: line(storetest.SKUA, 1)})
		must("hold", err)
		clock.Advance(11 * time.Minute)
		_, err = svc.ExpireDue(ctx, 10)
		must("expire", err)
		_, _, err = svc.Reserve(ctx, inventory.ReserveParams{RequestID: "bo", ReferenceID: "o2", Channel: "web", AllowSplit: true,
			BackorderPolicy: inventory.BackorderRemainder, Lines: line(storetest.SKUScarce, 12)})
		must("reserve with backorder", err)
		shipped, _, err := svc.Reserve(ctx, inventory.ReserveParams{RequestID: "r3", ReferenceID: "o3", Channel: "web",
			Lines: line(storetest.SKUB, 2)})
		must("reserve for a shipment event", err)
		stockEvent := func(id, sku, wh string, seq int64, kind inventory.StockEventKind, q int64) inventory.StockEvent {
			return inventory.StockEvent{EventID: id, SKU: sku, WarehouseCode: wh, Sequence: seq, Kind: kind, Quantity: q, OccurTime: clock.Now()}
		}
		shipment := stockEvent("e5", storetest.SKUB, "WH-HAM", 2, inventory.KindShipment, 2) // commits the reservation
		shipment.ReservationID, shipment.ShipmentID = shipped.ID, "s-ev"
		_, err = svc.ApplyStockEvents(ctx, inventory.ApplyStockEventsParams{RequestID: "se1", SourceSystem: "wms", Events: []inventory.StockEvent{
			stockEvent("e1", storetest.SKUScarce, "WH-MUC", 1, inventory.KindReceipt, 2), // allocates the backorder
			stockEvent("e2", "SKU-NEW", "WH-BER", 1, inventory.KindReceipt, 4),           // creates a level
			stockEvent("e3", storetest.SKUB, "WH-MUC", 1, inventory.KindShipment, 3),     // below zero: variance
			stockEvent("e4", storetest.SKUB, "WH-HAM", 1, inventory.KindReceipt, 1),      // then, same level:
			shipment,
		}})
		must("stock events", err)
		_, err = svc.StartReconciliation(ctx, inventory.StartReconciliationParams{
			RequestID: "rec", SnapshotSource: "erp", ApplyCorrections: true, SKUs: []string{storetest.SKUB}, SnapshotTime: clock.Now(),
			Entries: []inventory.SnapshotEntry{
				{SKU: storetest.SKUB, WarehouseCode: "WH-HAM", OnHand: 90, Sequence: 8},
				{SKU: storetest.SKUB, WarehouseCode: "WH-MUC", OnHand: 5, Sequence: 9},
			},
		})
		must("reconcile", err)
		svc.Wait()

		stockChanged, variances := relayed(t, db)
		causes := map[inventoryv1.StockChangeCause]bool{}
		seqs := map[string][]int64{}
		// In stream (sequence) order each event of a level starts from the
		// quantities the previous one ended at: the payload of sequence n
		// is the change to revision n, also for changes written in one
		// outbox batch.
		latest := map[string]*inventoryv1.StockQuantities{}
		for _, ev := range stockChanged {
			md := ev.GetMetadata()
			if md.GetAggregateType() != events.AggregateStockLevel || md.GetAggregateId() != ev.GetSku()+"@"+ev.GetWarehouseCode() {
				t.Errorf("StockChangedEvent metadata %v for %s@%s", md, ev.GetSku(), ev.GetWarehouseCode())
			}
			id := md.GetAggregateId()
			if prev, ok := latest[id]; ok && !proto.Equal(prev, ev.GetPreviousQuantities()) {
				t.Errorf("%s sequence %d starts from %v, the previous event ended at %v", id, md.GetSequence(),
					ev.GetPreviousQuantities(), prev)
			}
			latest[id] = ev.GetNewQuantities()
			seqs[id] = append(seqs[id], md.GetSequence())
			causes[ev.GetCause()] = true
		}
		for c := range inventoryv1.StockChangeCause_name {
			if c != 0 && !causes[inventoryv1.StockChangeCause(c)] {
				t.Errorf("no change with cause %v: the scenario misses a path", inventoryv1.StockChangeCause(c))
			}
		}
		levels, err := st.ListStockLevels(ctx, inventory.StockLevelQuery{Limit: 1000})
		must("list levels", err)
		if len(seqs) != len(levels) {
			t.Errorf("StockChangedEvents of %d levels, %d levels exist", len(seqs), len(levels))
		}
		for _, l := range levels {
			want := make([]int64, l.Revision)
			for i := range want {
				want[i] = int64(i + 1)
			}
			if diff := cmp.Diff(want, seqs[l.SKU+"@"+l.WarehouseCode]); diff != "" {
				t.Errorf("%s@%s at revision %d: StockChangedEvent sequences (-want +got):\n%s", l.SKU, l.WarehouseCode, l.Revision, diff)
			}
		}
		if len(variances) == 0 {
			t.Fatal("no VarianceDetectedEvent relayed")
		}
		for _, ev := range variances {
			if ev.GetMetadata().GetAggregateType() != events.AggregateStockLevel {
				t.Errorf("VarianceDetectedEvent metadata %v, want aggregate type %s", ev.GetMetadata(), events.AggregateStockLevel)
			}
		}
	})
}

// relayed publishes db's outbox to a fresh JetStream server and returns the
// StockChangedEvents and VarianceDetectedEvents in stream order, checking
// each message's headers against the metadata it carries.
func relayed(t *testing.T, db *sqldb.DB) ([]*inventoryv1.StockChangedEvent, []*inventoryv1.VarianceDetectedEvent) {
	t.Helper()
	ctx := t.Context()
	_, js := natstest.Connect(t, natstest.Start(t))
	stream, err := eventstreams.Ensure(ctx, js, eventstreams.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	// The audit records and exceptions go to the ops stream.
	if _, err := eventstreams.Ensure(ctx, js, eventstreams.Ops); err != nil {
		t.Fatal(err)
	}
	relay, err := outbox.NewRelay(db, js)
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := relay.RunOnce(ctx)
		if err != nil {
			t.Fatalf("relay: %v", err)
		}
		if n == 0 {
			break
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		changes   []*inventoryv1.StockChangedEvent
		variances []*inventoryv1.VarianceDetectedEvent
	)
	for range info.State.Msgs {
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("read relayed events: %v", err)
		}
		var m interface {
			proto.Message
			GetMetadata() *commonv1.EventMetadata
		}
		switch msg.Subject() {
		case eventstreams.StockChanged:
			ev := &inventoryv1.StockChangedEvent{}
			changes, m = append(changes, ev), ev
		case eventstreams.VarianceDetected:
			ev := &inventoryv1.VarianceDetectedEvent{}
			variances, m = append(variances, ev), ev
		default:
			continue
		}
		if err := proto.Unmarshal(msg.Data(), m); err != nil {
			t.Fatal(err)
		}
		md, h := m.GetMetadata(), msg.Headers()
		if h.Get(outbox.HeaderSequence) != strconv.FormatInt(md.GetSequence(), 10) || h.Get(outbox.HeaderEventID) != md.GetEventId() ||
			h.Get(outbox.HeaderAggregateID) != md.GetAggregateId() {
			t.Errorf("%s: headers %v, metadata %v", msg.Subject(), h, md)
		}
	}
	return changes, variances
}
