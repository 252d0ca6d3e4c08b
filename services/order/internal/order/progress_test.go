package order

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func confirmedOrder() *Order {
	return &Order{
		ID: "O-1", State: StateConfirmed,
		Lines: []Line{
			{ID: "1", SKU: "A", Quantity: 5, Allocations: []Allocation{{WarehouseID: "WH-HAM", Allocated: 3}, {WarehouseID: "WH-MUC", Allocated: 2}}},
			{ID: "2", SKU: "B", Quantity: 1, Allocations: []Allocation{{WarehouseID: "WH-HAM", Allocated: 1}}},
		},
	}
}

func report(shipment, wh string, m Milestone, lines ...ShipmentLine) ProgressParams {
	return ProgressParams{OrderID: "O-1", ShipmentID: shipment, WarehouseID: wh, Milestone: m, Lines: lines}
}

func TestApplyProgressSequences(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ham := []ShipmentLine{{"1", 3}, {"2", 1}}
	muc := []ShipmentLine{{"1", 2}}
	for _, tc := range []struct {
		name    string
		reports []ProgressParams
		want    [][]State // entered per report
		final   State
	}{
		{"split shipments shipped then delivered", []ProgressParams{
			report("S1", "WH-HAM", MilestoneShipped, ham...),
			report("S2", "WH-MUC", MilestoneShipped, muc...),
			report("S1", "WH-HAM", MilestoneDelivered, ham...),
			report("S2", "WH-MUC", MilestoneDelivered, muc...),
		}, [][]State{{StatePartiallyShipped}, {StateShipped}, nil, {StateDelivered}}, StateDelivered},
		{"delivery reported before the ship event", []ProgressParams{
			report("S1", "WH-HAM", MilestoneDelivered, ham...),
			report("S1", "WH-HAM", MilestoneShipped, ham...), // late, changes nothing
			report("S2", "WH-MUC", MilestoneDelivered, muc...),
		}, [][]State{{StatePartiallyShipped}, nil, {StateShipped, StateDelivered}}, StateDelivered},
		{"repeated report of one shipment counts once", []ProgressParams{
			report("S1", "WH-HAM", MilestoneShipped, ham...),
			report("S1", "WH-HAM", MilestoneShipped, ham...),
			report("S1", "WH-HAM", MilestoneShipped, ham...),
		}, [][]State{{StatePartiallyShipped}, nil, nil}, StatePartiallyShipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := confirmedOrder()
			for i, r := range tc.reports {
				got, err := applyProgress(o, r, now)
				if err != nil {
					t.Fatalf("report %d: %v", i, err)
				}
				if !slices.Equal(got, tc.want[i]) {
					t.Errorf("report %d entered %v, want %v", i, got, tc.want[i])
				}
			}
			if o.State != tc.final {
				t.Errorf("final state %s, want %s", o.State, tc.final)
			}
			if o.Lines[0].Shipped > o.Lines[0].Quantity || o.Lines[0].Delivered > o.Lines[0].Shipped {
				t.Errorf("line 1 shipped %d delivered %d of %d", o.Lines[0].Shipped, o.Lines[0].Delivered, o.Lines[0].Quantity)
			}
			for i, h := range o.History {
				if i > 0 && h.From != o.History[i-1].To {
					t.Errorf("history is not a chain: %+v", o.History)
				}
			}
		})
	}
}

func TestApplyProgressErrors(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var qea *QuantityExceedsAllocatedError
	var ul *UnknownLineError
	var wna *WarehouseNotAllocatedError
	var it *InvalidTransitionError
	var ia *InvalidArgumentError
	for name, tc := range map[string]struct {
		setup  func(*Order)
		report ProgressParams
		check  func(error) bool
	}{
		"more than allocated": {nil, report("S1", "WH-MUC", MilestoneShipped, ShipmentLine{"1", 3}), func(err error) bool {
			return errors.As(err, &qea) && qea.Requested == 3 && qea.Allowed == 2
		}},
		"two shipments over the allocation": {func(o *Order) {
			if _, err := applyProgress(o, report("S1", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 2}), now); err != nil {
				panic(err)
			}
		}, report("S2", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 2}), func(err error) bool {
			return errors.As(err, &qea) && qea.Requested == 4 && qea.Allowed == 3
		}},
		"line not allocated in the warehouse": {nil, report("S1", "WH-MUC", MilestoneShipped, ShipmentLine{"2", 1}), func(err error) bool {
			return errors.As(err, &qea) && qea.Allowed == 0
		}},
		"unknown line":      {nil, report("S1", "WH-HAM", MilestoneShipped, ShipmentLine{"9", 1}), func(err error) bool { return errors.As(err, &ul) }},
		"unknown warehouse": {nil, report("S1", "WH-BER", MilestoneShipped, ShipmentLine{"1", 1}), func(err error) bool { return errors.As(err, &wna) }},
		"line twice":        {nil, report("S1", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 1}, ShipmentLine{"1", 1}), func(err error) bool { return errors.As(err, &ia) }},
		"not confirmed":     {func(o *Order) { o.State = StateAcceptedPendingERP }, report("S1", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 1}), func(err error) bool { return errors.As(err, &it) }},
		"cancelled":         {func(o *Order) { o.State = StateCancelled }, report("S1", "WH-HAM", MilestoneDelivered, ShipmentLine{"1", 1}), func(err error) bool { return errors.As(err, &it) && it.To == StateDelivered }},
		"shipment moves warehouse": {func(o *Order) {
			if _, err := applyProgress(o, report("S1", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 1}), now); err != nil {
				panic(err)
			}
		}, report("S1", "WH-MUC", MilestoneShipped, ShipmentLine{"1", 1}), func(err error) bool { return errors.As(err, &ia) }},
	} {
		t.Run(name, func(t *testing.T) {
			o := confirmedOrder()
			if tc.setup != nil {
				tc.setup(o)
			}
			if _, err := applyProgress(o, tc.report, now); !tc.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
