package fulfillment_test

import (
	"errors"
	"testing"
	"time"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// A return whose lines one warehouse shipped is registered under the RMA
// id itself; the warehouse that shipped a line wins over one that only had
// it allocated, and cancelled requests do not count.
func TestExpectedReturnsForOneWarehouseKeepsTheRMAID(t *testing.T) {
	t.Parallel()
	reqs := []*fulfillment.Request{
		{ID: "FR-O-WH-BER", WarehouseID: "WH-BER", State: fulfillment.RequestCancelled,
			Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 2, ShippedQuantity: 2}}},
		{ID: "FR-O-WH-HAM", WarehouseID: "WH-HAM", State: fulfillment.RequestAcknowledged,
			Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 1}}},
		{ID: "FR-O-WH-MUC", WarehouseID: "WH-MUC", State: fulfillment.RequestCompleted,
			Lines: []fulfillment.Line{{OrderLineID: "1", SKU: "SKU-1", Quantity: 1, ShippedQuantity: 1}}},
	}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ers, err := fulfillment.ExpectedReturnsFor("RMA-1", "O", []fulfillment.ReturnLine{{OrderLineID: "1", Quantity: 1}}, reqs, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ers) != 1 || ers[0].ID != "RMA-1" || ers[0].WarehouseID != "WH-MUC" {
		t.Fatalf("expected returns %+v, want one RMA-1 to WH-MUC", ers)
	}
	if l := ers[0].Lines[0]; l.LineID != "1" || l.SKU != "SKU-1" {
		t.Errorf("line %+v: line id and SKU default to the order line's", l)
	}
	if _, err := fulfillment.ExpectedReturnsFor("RMA-1", "O", []fulfillment.ReturnLine{{OrderLineID: "7", Quantity: 1}}, reqs, now); !errors.Is(err, fulfillment.ErrInvalidArgument) {
		t.Errorf("unknown order line: err = %v, want ErrInvalidArgument", err)
	}
	if _, err := fulfillment.ExpectedReturnsFor("", "O", []fulfillment.ReturnLine{{OrderLineID: "1", Quantity: 1}}, reqs, now); !errors.Is(err, fulfillment.ErrInvalidArgument) {
		t.Errorf("no RMA id: err = %v, want ErrInvalidArgument", err)
	}
	// A return quantity <= 0 is refused, also next to a valid line: no
	// warehouse is told to expect nothing or a negative receipt.
	for _, q := range []int64{0, -1, -1 << 63} {
		lines := []fulfillment.ReturnLine{{OrderLineID: "1", Quantity: 1}, {OrderLineID: "1", LineID: "1b", Quantity: q}}
		if ers, err := fulfillment.ExpectedReturnsFor("RMA-1", "O", lines, reqs, now); !errors.Is(err, fulfillment.ErrInvalidArgument) {
			t.Errorf("return quantity %d: %+v, %v; want ErrInvalidArgument", q, ers, err)
		}
	}
}
