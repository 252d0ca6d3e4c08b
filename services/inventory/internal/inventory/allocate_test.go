package inventory

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testWarehouses() []Warehouse {
	return []Warehouse{
		{Code: "B", Priority: 2, Region: "east", Channels: []string{"web"}, Active: true},
		{Code: "A", Priority: 1, Region: "north", Channels: []string{"web", "b2b"}, Active: true},
		{Code: "C", Priority: 2, Region: "south", Active: true}, // every channel
		{Code: "Z", Priority: 0, Region: "north", Channels: []string{"web"}, Active: false},
	}
}

func lvl(sku, wh string, onHand, reserved int64) StockLevel {
	return StockLevel{SKU: sku, WarehouseCode: wh, Quantities: Quantities{OnHand: onHand, Reserved: reserved}}
}

func TestAllocate(t *testing.T) {
	t.Parallel()
	levels := []StockLevel{
		lvl("X", "A", 5, 1), lvl("X", "B", 3, 0), lvl("X", "C", 10, 0), lvl("X", "Z", 100, 0),
		lvl("Y", "A", 2, 0), lvl("Y", "B", 0, 0),
	}
	line := func(sku string, q int64) []ReserveLine { return []ReserveLine{{SKU: sku, Quantity: q}} }
	tests := []struct {
		name    string
		p       ReserveParams
		want    map[string][]Allocation
		wantErr error
	}{
		{
			name: "priority then code, inactive skipped",
			p:    ReserveParams{Channel: "web", Lines: line("X", 4)},
			want: map[string][]Allocation{"X": {{WarehouseCode: "A", Quantity: 4}}},
		},
		{
			name: "split in priority order, ties by code",
			p:    ReserveParams{Channel: "web", AllowSplit: true, Lines: line("X", 9)},
			want: map[string][]Allocation{"X": {{WarehouseCode: "A", Quantity: 4}, {WarehouseCode: "B", Quantity: 3}, {WarehouseCode: "C", Quantity: 2}}},
		},
		{
			name: "no split: first covering warehouse",
			p:    ReserveParams{Channel: "web", Lines: line("X", 6)},
			want: map[string][]Allocation{"X": {{WarehouseCode: "C", Quantity: 6}}},
		},
		{
			name: "channel filter (b2b: A and C only)",
			p:    ReserveParams{Channel: "b2b", AllowSplit: true, Lines: line("X", 14)},
			want: map[string][]Allocation{"X": {{WarehouseCode: "A", Quantity: 4}, {WarehouseCode: "C", Quantity: 10}}},
		},
		{
			name:    "reject reports total available of usable warehouses",
			p:       ReserveParams{Channel: "web", AllowSplit: true, Lines: []ReserveLine{{SKU: "Y", Quantity: 1}, {SKU: "X", Quantity: 18}}},
			wantErr: &InsufficientStockError{SKU: "X", Requested: 18, Available: 17},
		},
		{
			name: "partial keeps what is there",
			p:    ReserveParams{Channel: "web", BackorderPolicy: BackorderPartial, Lines: line("Y", 5)},
			want: map[string][]Allocation{"Y": {{WarehouseCode: "A", Quantity: 2}}},
		},
		{
			name: "nearest region first",
			p:    ReserveParams{Channel: "web", Strategy: StrategyNearestRegion, DestinationRegion: "south", Lines: line("X", 1)},
			want: map[string][]Allocation{"X": {{WarehouseCode: "C", Quantity: 1}}},
		},
		{
			name: "single warehouse preferred",
			p: ReserveParams{Channel: "web", Strategy: StrategySingleWarehousePreferred,
				Lines: []ReserveLine{{SKU: "X", Quantity: 4}, {SKU: "Y", Quantity: 2}}},
			want: map[string][]Allocation{"X": {{WarehouseCode: "A", Quantity: 4}}, "Y": {{WarehouseCode: "A", Quantity: 2}}},
		},
		{
			name:    "unknown SKU",
			p:       ReserveParams{Channel: "web", Lines: line("NOPE", 1)},
			wantErr: &UnknownSKUError{SKU: "NOPE"},
		},
		{
			name:    "a warehouse without channels serves every channel",
			p:       ReserveParams{Channel: "pos", Lines: line("X", 1)},
			wantErr: nil, // C serves every channel
			want:    map[string][]Allocation{"X": {{WarehouseCode: "C", Quantity: 1}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lines, moves, err := Allocate(tc.p, testWarehouses(), levels)
			if tc.wantErr != nil {
				if diff := cmp.Diff(tc.wantErr, err); diff != "" {
					t.Fatalf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]Allocation{}
			var reserved int64
			for _, l := range lines {
				got[l.SKU] = l.Allocations
				reserved += l.Allocated()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("allocations (-want +got):\n%s", diff)
			}
			var moved int64
			for _, m := range moves {
				moved += m.Reserved
				if m.Cause != CauseReservation || m.OnHand != 0 {
					t.Errorf("movement %+v", m)
				}
			}
			if moved != reserved {
				t.Errorf("movements reserve %d, lines allocate %d", moved, reserved)
			}
		})
	}
}

func TestAllocateNoWarehouse(t *testing.T) {
	t.Parallel()
	ws := []Warehouse{{Code: "A", Channels: []string{"web"}, Active: true}}
	_, _, err := Allocate(ReserveParams{Channel: "b2b", Lines: []ReserveLine{{SKU: "X", Quantity: 1}}}, ws, []StockLevel{lvl("X", "A", 1, 0)})
	var nw *NoWarehouseForChannelError
	if !errors.As(err, &nw) || nw.Channel != "b2b" {
		t.Errorf("error = %v", err)
	}
}

func TestReleaseAndCommit(t *testing.T) {
	t.Parallel()
	r := Reservation{ID: "r", State: StateConfirmed, Lines: []ReservationLine{
		{SKU: "X", Requested: 9, Backordered: 2, Allocations: []Allocation{{WarehouseCode: "A", Quantity: 4}, {WarehouseCode: "B", Quantity: 3}}},
	}}
	moves, released, err := r.release([]ReleaseLine{{SKU: "X", Quantity: 4}})
	if err != nil {
		t.Fatal(err)
	}
	// Backorder first (2), then the last allocation (B: 2).
	if diff := cmp.Diff([]Movement{{SKU: "X", WarehouseCode: "B", Reserved: -2, Cause: CauseRelease}}, moves); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ReservationQuantity{{SKU: "X", Quantity: 2}, {SKU: "X", WarehouseCode: "B", Quantity: 2}}, released); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
	if l := r.Lines[0]; l.Backordered != 0 || l.Unfulfilled != 2 {
		t.Errorf("line = %+v", l)
	}
	if _, _, err := r.commit("A", []CommitLine{{SKU: "X", Quantity: 5}}); err == nil {
		t.Error("commit beyond the open allocation succeeded")
	}
	if _, _, err := r.commit("A", []CommitLine{{SKU: "X", Quantity: 4}}); err != nil || r.State != StateConfirmed {
		t.Fatalf("commit A = %v, state %v", err, r.State)
	}
	if _, _, err := r.release([]ReleaseLine{{SKU: "X", Quantity: 1, WarehouseCode: "B"}}); err != nil || r.State != StateCommitted {
		t.Errorf("release of the last open unit = %v, state %v; want COMMITTED", err, r.State)
	}
}
