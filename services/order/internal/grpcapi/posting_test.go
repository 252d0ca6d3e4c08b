package grpcapi_test

import (
	"testing"

	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/services/order/internal/neighbourfake"
	"github.com/transload/transload/services/order/internal/order"
)

// documentsOf returns the stored documents of an order.
func (e *env) documentsOf(t *testing.T, id string) []order.Document {
	t.Helper()
	docs, err := e.store.(order.DocumentReader).ListDocuments(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestShipmentStoresItsInvoice: each shipment's first report stores one
// invoice of exactly the shipped lines at the order's prices; a repeated
// event, a later milestone of the same shipment and a re-sent report under
// a new event id store no second one.
func TestShipmentStoresItsInvoice(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		id := e.createConfirmed(t, createReq("inv", "C0007", line{"SKU-00500", 6}, line{"SKU-00001", 1}))
		o := e.get(t, id)
		price := func(n int) int64 { return o.GetLines()[n].GetUnitPrice().GetAmountMinor() }
		if p, _ := neighbourfake.PriceOf("SKU-00500"); p != price(0) {
			t.Fatalf("line 1 price %d, want the fake's %d", price(0), p)
		}
		shipped := orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED
		delivered := orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_DELIVERED
		ham := map[string]int64{"1": 4, "2": 1}
		for _, r := range []*orderv1.RecordShipmentProgressRequest{
			progress(id, "ev-1", "S1", "WH-HAM", shipped, ham),
			progress(id, "ev-1", "S1", "WH-HAM", shipped, ham),   // same event
			progress(id, "ev-1b", "S1", "WH-HAM", shipped, ham),  // same shipment, new event
			progress(id, "ev-2", "S1", "WH-HAM", delivered, ham), // later milestone
		} {
			if _, err := e.client.RecordShipmentProgress(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		docs := e.documentsOf(t, id)
		if len(docs) != 1 {
			t.Fatalf("documents after S1 = %+v, want one invoice", docs)
		}
		inv := docs[0]
		if inv.ID != id+":S1" || inv.Kind != order.DocumentInvoice || inv.CustomerID != "C0007" || inv.Currency != "EUR" || len(inv.Lines) != 2 {
			t.Fatalf("invoice = %+v", inv)
		}
		if l := inv.Lines[0]; l.OrderLineID != "1" || l.Quantity != 4 || l.AmountMinor != 4*price(0) {
			t.Errorf("invoice line 1 = %+v, want 4 x %d", l, price(0))
		}
		if l := inv.Lines[1]; l.OrderLineID != "2" || l.Quantity != 1 || l.AmountMinor != price(1) {
			t.Errorf("invoice line 2 = %+v, want 1 x %d", l, price(1))
		}
		if _, err := e.client.RecordShipmentProgress(ctx, progress(id, "ev-3", "S2", "WH-MUC", shipped, map[string]int64{"1": 2})); err != nil {
			t.Fatal(err)
		}
		docs = e.documentsOf(t, id)
		if len(docs) != 2 || docs[1].ID != id+":S2" || docs[1].Lines[0].AmountMinor != 2*price(0) {
			t.Fatalf("documents after S2 = %+v", docs)
		}
		var invoiced int64
		for _, d := range docs {
			net, _, err := d.TotalMinor()
			if err != nil {
				t.Fatal(err)
			}
			invoiced += net
		}
		if want := e.get(t, id).GetTotals().GetSubtotal().GetAmountMinor(); invoiced != want {
			t.Errorf("invoiced %d, shipped value (whole order) %d", invoiced, want)
		}
	})
}
