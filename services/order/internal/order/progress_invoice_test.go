package order

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestShipmentInvoice(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	o := confirmedOrder()
	o.CustomerID, o.Currency = "C1", "EUR"
	o.Lines[0].UnitPriceMinor, o.Lines[0].ExtendedMinor = 1000, 5000
	o.Lines[1].UnitPriceMinor, o.Lines[1].ExtendedMinor = 250, 250
	o.SubtotalMinor = 5250
	apply := func(p ProgressParams) []Document {
		t.Helper()
		before := o.Clone()
		if _, err := applyProgress(o, p, now); err != nil {
			t.Fatal(err)
		}
		docs, err := shipmentInvoice(before, o, p, now)
		if err != nil {
			t.Fatal(err)
		}
		return docs
	}
	got := apply(report("S1", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 3}, ShipmentLine{"2", 1}))
	want := []Document{{ID: "O-1:S1", Kind: DocumentInvoice, OrderID: "O-1", CustomerID: "C1", SourceID: "S1", Currency: "EUR", CreatedAt: now,
		Lines: []DocumentLine{
			{SourceLineID: "1", OrderLineID: "1", SKU: "A", Quantity: 3, UnitPriceMinor: 1000, AmountMinor: 3000},
			{SourceLineID: "2", OrderLineID: "2", SKU: "B", Quantity: 1, UnitPriceMinor: 250, AmountMinor: 250},
		}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("first report of S1 (-want +got):\n%s", diff)
	}
	if docs := apply(report("S1", "WH-HAM", MilestoneDelivered, ShipmentLine{"1", 3}, ShipmentLine{"2", 1})); docs != nil {
		t.Errorf("delivery of S1 issued %+v, want nothing", docs)
	}
	if docs := apply(report("S2", "WH-MUC", MilestoneDelivered, ShipmentLine{"1", 2})); len(docs) != 1 || docs[0].ID != "O-1:S2" ||
		len(docs[0].Lines) != 1 || docs[0].Lines[0].AmountMinor != 2000 {
		t.Errorf("first report of S2 (delivered straight away) = %+v, want an invoice of 2 x 1000", docs)
	}
	// Value invoiced equals value shipped.
	if o.Lines[0].Shipped*1000+o.Lines[1].Shipped*250 != 3000+250+2000 {
		t.Errorf("shipped value differs from invoiced")
	}
}

func TestShipmentInvoiceSkipsEmptyShipment(t *testing.T) {
	t.Parallel()
	o := confirmedOrder()
	o.CustomerID, o.Currency = "C1", "EUR"
	p := report("S0", "WH-HAM", MilestoneShipped, ShipmentLine{"1", 0})
	before := o.Clone()
	if _, err := applyProgress(o, p, time.Now()); err != nil {
		t.Fatal(err)
	}
	if docs, err := shipmentInvoice(before, o, p, time.Now()); err != nil || docs != nil {
		t.Errorf("empty shipment: %+v %v, want no invoice", docs, err)
	}
}
