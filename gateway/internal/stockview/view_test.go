package stockview

import (
	"testing"

	"google.golang.org/genproto/googleapis/type/date"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	inventoryv1 "github.com/transload/transload/gen/transload/inventory/v1"
)

var tableWHs = []Warehouse{
	{Code: "WH-HAM", Active: true, Channels: []string{"b2b", "web"}},
	{Code: "WH-MUC", Active: true, Channels: []string{"web"}},
	{Code: "WH-B2B", Active: true, Channels: []string{"b2b"}},
	{Code: "WH-OLD", Active: false},
}

func readyView(t *testing.T) *View {
	t.Helper()
	v := New(0)
	v.SetWarehouses(tableWHs)
	v.SetReady(true)
	return v
}

func wa(code string, avail, rev int64) *inventoryv1.WarehouseAvailability {
	return &inventoryv1.WarehouseAvailability{WarehouseCode: code, Available: avail, OnHand: avail, Revision: rev}
}

// seedWeb seeds SKU-1 for web: HAM 10 at revision 3, no level in MUC.
func seedWeb(t *testing.T, v *View) {
	t.Helper()
	_, missing, tok := v.Lookup("web", []string{"SKU-1"})
	if len(missing) != 1 {
		t.Fatalf("before the seed: missing %v", missing)
	}
	v.Seed("web", tok, []*inventoryv1.SkuAvailability{{Sku: "SKU-1", Known: true, TotalAvailable: 10, Warehouses: []*inventoryv1.WarehouseAvailability{wa("WH-HAM", 10, 3)}}})
}

func stockEvent(sku, wh string, seq, onHand, reserved, inbound int64) *inventoryv1.StockChangedEvent {
	return &inventoryv1.StockChangedEvent{
		Metadata: &commonv1.EventMetadata{Sequence: seq}, Sku: sku, WarehouseCode: wh,
		NewQuantities: &inventoryv1.StockQuantities{OnHand: onHand, Reserved: reserved, Available: max(onHand-reserved, 0), InboundTotal: inbound},
	}
}

func available(t *testing.T, v *View, channel, sku string) (int64, bool) {
	t.Helper()
	found, _, _ := v.Lookup(channel, []string{sku})
	sa, ok := found[sku]
	return sa.GetTotalAvailable(), ok
}

func TestSeedThenAnswer(t *testing.T) {
	v := readyView(t)
	seedWeb(t, v)
	found, missing, _ := v.Lookup("web", []string{"SKU-1"})
	if len(missing) != 0 {
		t.Fatalf("missing %v after the seed", missing)
	}
	sa := found["SKU-1"]
	if sa.GetTotalAvailable() != 10 || len(sa.GetWarehouses()) != 1 || sa.GetWarehouses()[0].GetRevision() != 3 || !sa.GetKnown() {
		t.Errorf("answer %v", sa)
	}
	// b2b counts WH-B2B, which the web seed did not cover: ask inventory.
	if _, ok := available(t, v, "b2b", "SKU-1"); ok {
		t.Error("b2b answered from a web seed that does not cover WH-B2B")
	}
}

func TestEventsAppliedInSequence(t *testing.T) {
	v := readyView(t)
	seedWeb(t, v)
	v.Apply(stockEvent("SKU-1", "WH-HAM", 4, 10, 2, 0)) // reservation of 2
	if n, ok := available(t, v, "web", "SKU-1"); !ok || n != 8 {
		t.Errorf("after seq 4: %d %v, want 8", n, ok)
	}
	// A level that did not exist is created by its first event.
	v.Apply(stockEvent("SKU-1", "WH-MUC", 1, 5, 0, 0))
	if n, ok := available(t, v, "web", "SKU-1"); !ok || n != 13 {
		t.Errorf("after MUC seq 1: %d %v, want 13", n, ok)
	}
	if s := v.Stats(); s.Applied != 2 || s.Gaps != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestDuplicateAndOutOfOrderIgnored(t *testing.T) {
	v := readyView(t)
	seedWeb(t, v)
	v.Apply(stockEvent("SKU-1", "WH-HAM", 4, 10, 2, 0))
	v.Apply(stockEvent("SKU-1", "WH-HAM", 4, 10, 9, 0)) // duplicate sequence
	v.Apply(stockEvent("SKU-1", "WH-HAM", 2, 0, 0, 0))  // older than the seed
	if n, ok := available(t, v, "web", "SKU-1"); !ok || n != 8 {
		t.Errorf("%d %v, want 8 (duplicates and late events ignored)", n, ok)
	}
	if s := v.Stats(); s.Ignored != 2 {
		t.Errorf("stats %+v, want 2 ignored", s)
	}
}

func TestGapFallsBack(t *testing.T) {
	v := readyView(t)
	seedWeb(t, v)
	v.Apply(stockEvent("SKU-1", "WH-HAM", 5, 10, 2, 0)) // 4 is missing
	found, missing, tok := v.Lookup("web", []string{"SKU-1"})
	if len(found) != 0 || len(missing) != 1 {
		t.Fatalf("after a gap: found %v missing %v, want a fallback", found, missing)
	}
	if v.Stats().Gaps != 1 {
		t.Errorf("stats %+v", v.Stats())
	}
	// The live answer reseeds it.
	v.Seed("web", tok, []*inventoryv1.SkuAvailability{{Sku: "SKU-1", Known: true, Warehouses: []*inventoryv1.WarehouseAvailability{wa("WH-HAM", 7, 5)}}})
	if n, ok := available(t, v, "web", "SKU-1"); !ok || n != 7 {
		t.Errorf("after the reseed: %d %v", n, ok)
	}
}

func TestInboundChangeFallsBack(t *testing.T) {
	v := readyView(t)
	_, _, tok := v.Lookup("web", []string{"SKU-1"})
	v.Seed("web", tok, []*inventoryv1.SkuAvailability{{Sku: "SKU-1", Known: true, Warehouses: []*inventoryv1.WarehouseAvailability{
		{WarehouseCode: "WH-HAM", Available: 1, OnHand: 1, InboundTotal: 5, NextInboundDate: &date.Date{Year: 2027, Month: 1, Day: 4}, Revision: 2},
	}}})
	if _, ok := available(t, v, "web", "SKU-1"); !ok {
		t.Fatal("not seeded")
	}
	v.Apply(stockEvent("SKU-1", "WH-HAM", 3, 1, 0, 9)) // more inbound: the date may have changed
	if _, ok := available(t, v, "web", "SKU-1"); ok {
		t.Error("answered after an inbound change the event cannot date")
	}
}

// TestInvalidateBeatsAnOlderLiveAnswer is the read-your-writes rule: after
// the caller's order drops the SKU, a live answer that was read before
// cannot put the old stock back.
func TestInvalidateBeatsAnOlderLiveAnswer(t *testing.T) {
	for _, seededBefore := range []bool{false, true} {
		v := readyView(t)
		if seededBefore {
			seedWeb(t, v)
			v.Invalidate([]string{"SKU-1"}) // an earlier order
		}
		_, missing, tok := v.Lookup("web", []string{"SKU-1"}) // a live read starts
		if len(missing) != 1 {
			t.Fatalf("missing %v", missing)
		}
		v.Invalidate([]string{"SKU-1"}) // the caller's order completes
		v.Seed("web", tok, []*inventoryv1.SkuAvailability{{Sku: "SKU-1", Known: true, Warehouses: []*inventoryv1.WarehouseAvailability{wa("WH-HAM", 10, 3)}}})
		if _, ok := available(t, v, "web", "SKU-1"); ok {
			t.Errorf("seeded before=%v: a live answer read before the order reseeded the SKU", seededBefore)
		}
	}
}

func TestNotReadyOrTableChangeClears(t *testing.T) {
	v := readyView(t)
	seedWeb(t, v)
	v.SetWarehouses(tableWHs) // same table: kept
	if _, ok := available(t, v, "web", "SKU-1"); !ok {
		t.Fatal("an unchanged table cleared the view")
	}
	changed := append([]Warehouse(nil), tableWHs...)
	changed[1] = Warehouse{Code: "WH-MUC", Active: false}
	v.SetWarehouses(changed)
	if _, ok := available(t, v, "web", "SKU-1"); ok {
		t.Error("answered after the warehouse table changed")
	}
	seedWeb(t, v)
	v.SetReady(false)
	if _, ok := available(t, v, "web", "SKU-1"); ok {
		t.Error("answered while not ready")
	}
	v.SetReady(true)
	if _, ok := available(t, v, "web", "SKU-1"); ok {
		t.Error("levels survived the feed stopping")
	}
}

func TestSeedRefusesUntrustedAnswers(t *testing.T) {
	v := readyView(t)
	_, _, tok := v.Lookup("web", []string{"SKU-1", "SKU-2"})
	v.Seed("web", tok, []*inventoryv1.SkuAvailability{
		{Sku: "SKU-1", Warehouses: []*inventoryv1.WarehouseAvailability{wa("WH-HAM", 10, 0)}}, // no revision
		{Sku: "SKU-2", Warehouses: []*inventoryv1.WarehouseAvailability{wa("WH-NEW", 10, 1)}}, // warehouse not in the table
	})
	for _, sku := range []string{"SKU-1", "SKU-2"} {
		if _, ok := available(t, v, "web", sku); ok {
			t.Errorf("%s seeded from an untrusted answer", sku)
		}
	}
}

// TestEventDuringLiveReadIsNotLost: an event that arrives after inventory
// answered but before the answer is merged is not overwritten by it.
func TestEventDuringLiveReadIsNotLost(t *testing.T) {
	v := readyView(t)
	_, _, tok := v.Lookup("web", []string{"SKU-1"})
	v.Apply(stockEvent("SKU-1", "WH-HAM", 4, 10, 4, 0)) // after the read, before the merge
	v.Apply(stockEvent("SKU-1", "WH-MUC", 1, 2, 0, 0))  // a level created meanwhile
	v.Seed("web", tok, []*inventoryv1.SkuAvailability{{Sku: "SKU-1", Known: true, Warehouses: []*inventoryv1.WarehouseAvailability{wa("WH-HAM", 10, 3)}}})
	if n, ok := available(t, v, "web", "SKU-1"); !ok || n != 8 {
		t.Errorf("%d %v, want 6 (HAM after the event) + 2 (MUC) = 8", n, ok)
	}
	// Later events continue from there.
	v.Apply(stockEvent("SKU-1", "WH-HAM", 5, 10, 5, 0))
	if n, ok := available(t, v, "web", "SKU-1"); !ok || n != 7 {
		t.Errorf("%d %v, want 7", n, ok)
	}
}
