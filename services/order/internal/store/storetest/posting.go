package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/transload/transload/services/order/internal/order"
)

// runPosting runs the conformance tests of the financial documents and
// posting tables.
func runPosting(t *testing.T, h Harness) {
	t.Run("Documents", func(t *testing.T) { t.Parallel(); testDocuments(t, h) })
}

// documents returns s's document reader; every order.Store of the suite
// must provide one.
func documents(t *testing.T, s order.Store) order.DocumentReader {
	t.Helper()
	r, ok := s.(order.DocumentReader)
	if !ok {
		t.Fatalf("%T does not implement order.DocumentReader", s)
	}
	return r
}

// invoiceFixture is an invoice of shipment S1 of o.
func invoiceFixture(o *order.Order, at time.Time) order.Document {
	return order.Document{
		ID: order.InvoiceID(o.ID, "S1"), Kind: order.DocumentInvoice, OrderID: o.ID, CustomerID: o.CustomerID,
		SourceID: "S1", Currency: o.Currency, CreatedAt: at,
		Lines: []order.DocumentLine{
			{SourceLineID: "1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 3, UnitPriceMinor: 1000, TaxMinor: 190, AmountMinor: 3000},
			{SourceLineID: "2", OrderLineID: "2", SKU: "SKU-00002", Quantity: 1, UnitPriceMinor: 250, AmountMinor: 250},
		},
	}
}

func testDocuments(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	docs := documents(t, s)
	o := NewOrder("O-doc", "C0001", t0)
	create(t, s, o)
	inv := invoiceFixture(o, t0.Add(time.Minute))
	withDoc := func(d order.Document) func(o *order.Order) (order.Effects, error) {
		return func(o *order.Order) (order.Effects, error) {
			o.ERP.LastError += "."
			return order.Effects{Documents: []order.Document{d}}, nil
		}
	}

	// A failed change stores no document.
	boom := errors.New("boom")
	if _, err := s.UpdateOrder(ctx, o.ID, nil, func(o *order.Order) (order.Effects, error) {
		return order.Effects{Documents: []order.Document{inv}}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if _, err := docs.GetDocument(ctx, inv.ID); !errors.Is(err, order.ErrDocumentNotFound) {
		t.Fatalf("document after failed change: err = %v, want ErrDocumentNotFound", err)
	}

	// Stored with the change, read back as written.
	if _, err := s.UpdateOrder(ctx, o.ID, nil, withDoc(inv)); err != nil {
		t.Fatal(err)
	}
	got, err := docs.GetDocument(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inv, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored document (-want +got):\n%s", diff)
	}

	// The same id again is a no-op: the first content stays, the change
	// itself commits.
	changed := inv
	changed.Lines = []order.DocumentLine{{SourceLineID: "1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 5, UnitPriceMinor: 1000, AmountMinor: 5000}}
	after, err := s.UpdateOrder(ctx, o.ID, nil, withDoc(changed))
	if err != nil {
		t.Fatalf("same document id again: %v", err)
	}
	if after.ERP.LastError != ".." {
		t.Errorf("order after second change = %q: the change did not commit", after.ERP.LastError)
	}
	if got, _ := docs.GetDocument(ctx, inv.ID); !cmp.Equal(inv, got, cmpopts.EquateEmpty()) {
		t.Errorf("document after a second write of its id = %+v, want the first content", got)
	}

	// An invalid document fails the whole change.
	bad := invoiceFixture(o, t0)
	bad.ID, bad.Lines[0].Quantity = "O-doc:S2", 0
	if _, err := s.UpdateOrder(ctx, o.ID, nil, withDoc(bad)); err == nil {
		t.Fatal("invalid document stored")
	}
	if cur, _ := s.GetOrder(ctx, o.ID); cur.Version != after.Version || cur.ERP.LastError != ".." {
		t.Errorf("order changed by a change with an invalid document: version %d, was %d", cur.Version, after.Version)
	}
	if _, err := docs.GetDocument(ctx, bad.ID); !errors.Is(err, order.ErrDocumentNotFound) {
		t.Errorf("invalid document: err = %v, want ErrDocumentNotFound", err)
	}

	// A credit memo of the same order; listed after the invoice.
	memo := order.Document{ID: "RA-1", Kind: order.DocumentCreditMemo, OrderID: o.ID, CustomerID: o.CustomerID,
		SourceID: "returnAuthorizations/RA-1", Currency: "EUR", CreatedAt: t0.Add(time.Hour),
		Lines: []order.DocumentLine{{SourceLineID: "r1", OrderLineID: "1", SKU: "SKU-00001", Quantity: 1, UnitPriceMinor: 1000, AmountMinor: 1000}}}
	if _, err := s.UpdateOrder(ctx, o.ID, nil, withDoc(memo)); err != nil {
		t.Fatal(err)
	}
	list, err := docs.ListDocuments(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]order.Document{inv, memo}, list, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ListDocuments (-want +got):\n%s", diff)
	}
	if list, _ := docs.ListDocuments(ctx, "O-other"); len(list) != 0 {
		t.Errorf("documents of another order: %+v", list)
	}
}
