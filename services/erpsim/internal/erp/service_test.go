package erp

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecideOrder(t *testing.T) {
	t.Parallel()
	seed := DemoSeed()
	cust := func(id string) *Customer {
		for _, c := range seed.Customers {
			if c.ID == id {
				return &c
			}
		}
		t.Fatalf("no customer %s", id)
		return nil
	}
	products := map[string]Product{"SKU-00001": seed.Products[0]}
	inactive := seed.Products[1]
	inactive.SalesState = SalesInactive
	webOnly := seed.Products[2]
	webOnly.Channels = []string{ChannelWeb}
	products[inactive.SKU], products[webOnly.SKU] = inactive, webOnly
	blocked := *cust("C0001")
	blocked.State = AccountBlocked
	prepay := *cust("C0001")
	prepay.PrepaymentRequired = true

	order := func(customer, channel, currency string, total int64, skus ...string) SalesOrder {
		o := SalesOrder{CustomerID: customer, Channel: channel, Currency: currency, GrandTotalMinor: total}
		for i, s := range skus {
			o.Lines = append(o.Lines, OrderLine{LineID: fmt.Sprint(i + 1), SKU: s, Quantity: 1})
		}
		return o
	}
	tests := []struct {
		name     string
		order    SalesOrder
		customer *Customer
		want     RejectionReason // RejectNone: accepted
	}{
		{"accepted", order("C0001", "web", "EUR", 100, "SKU-00001"), cust("C0001"), RejectNone},
		{"exactly the available credit", order("C0001", "web", "EUR", 6_000_000, "SKU-00001"), cust("C0001"), RejectNone},
		{"unknown customer", order("C0999", "web", "EUR", 100, "SKU-00001"), nil, RejectUnknownCustomer},
		{"blocked customer", order("C0001", "web", "EUR", 100, "SKU-00001"), &blocked, RejectUnknownCustomer},
		{"credit hold", order("C0020", "b2b", "EUR", 100, "SKU-00001"), cust("C0020"), RejectCreditHold},
		{"channel not allowed", order("C0011", "web", "EUR", 100, "SKU-00001"), cust("C0011"), RejectOther},
		{"foreign currency", order("C0001", "web", "USD", 100, "SKU-00001"), cust("C0001"), RejectOther},
		{"unknown SKU", order("C0001", "web", "EUR", 100, "SKU-00001", "SKU-99999"), cust("C0001"), RejectUnknownSKU},
		{"inactive SKU", order("C0001", "web", "EUR", 100, inactive.SKU), cust("C0001"), RejectBlockedItem},
		{"SKU not sold in channel", order("C0011", "b2b", "EUR", 100, webOnly.SKU), cust("C0011"), RejectBlockedItem},
		{"over the credit limit", order("C0019", "b2b", "EUR", 100_001, "SKU-00001"), cust("C0019"), RejectCreditLimit},
		{"prepayment", order("C0001", "web", "EUR", 100, "SKU-00001"), &prepay, RejectOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideOrder(tt.order, DecisionInput{Customer: tt.customer, Products: products})
			if d.Accepted != (tt.want == RejectNone) || d.Reason != tt.want {
				t.Errorf("decision = %+v, want reason %s", d, tt.want)
			}
			if !d.Accepted && d.Message == "" {
				t.Error("rejection without a message")
			}
		})
	}
}

func TestParseRejectionReason(t *testing.T) {
	t.Parallel()
	for r, name := range rejectionNames {
		for _, s := range []string{name, "SALES_ORDER_REJECTION_REASON_" + name} {
			if got, err := ParseRejectionReason(s); err != nil || got != r {
				t.Errorf("ParseRejectionReason(%q) = %v, %v", s, got, err)
			}
		}
	}
	for _, s := range []string{"", "NONE", "credit_limit", "SALES_ORDER_REJECTION_REASON_"} {
		if _, err := ParseRejectionReason(s); err == nil {
			t.Errorf("ParseRejectionReason(%q) accepted", s)
		}
	}
}

// fakeLookup answers the posting rules from maps.
type fakeLookup struct {
	customers map[string]bool
	orders    map[string]string // order id → currency
	posted    map[string]string // line hash → document
	next      int
}

func (f *fakeLookup) CustomerExists(_ context.Context, id string) (bool, error) {
	return f.customers[id], nil
}
func (f *fakeLookup) AcceptedOrderCurrency(_ context.Context, id string) (string, bool, error) {
	c, ok := f.orders[id]
	return c, ok, nil
}
func (f *fakeLookup) PostedLine(_ context.Context, h string) (string, bool, error) {
	d, ok := f.posted[h]
	return d, ok, nil
}
func (f *fakeLookup) NextDocumentNumber(context.Context) (string, error) {
	f.next++
	return fmt.Sprintf("DOC%d", f.next), nil
}

func TestPostLines(t *testing.T) {
	t.Parallel()
	lk := &fakeLookup{
		customers: map[string]bool{"C1": true},
		orders:    map[string]string{"O1": "EUR"},
		posted:    map[string]string{"old": "DOC-OLD"},
	}
	l := func(id, doc, hash string, mod func(*JournalLine)) JournalLine {
		jl := JournalLine{LineID: id, DocumentID: doc, OrderID: "O1", CustomerID: "C1", LineHash: hash,
			AmountMinor: 100, TaxMinor: 19, Currency: "EUR", TaxCurrency: "EUR", Account: "8400"}
		if mod != nil {
			mod(&jl)
		}
		return jl
	}
	lines := []JournalLine{
		l("1", "D1", "h1", nil),
		l("2", "D2", "h2", func(j *JournalLine) { j.Currency, j.TaxCurrency = "USD", "USD" }),
		l("3", "D1", "old", nil), // posted by an earlier batch
		l("4", "D2", "h4", nil),  // document D2 has a rejected line
		l("5", "D3", "h1", nil),  // same hash as line 1 in this batch
		l("6", "D4", "h6", func(j *JournalLine) { j.AmountMinor = 0 }),
		l("7", "D5", "h7", func(j *JournalLine) { j.TaxMinor = -1 }),
	}
	got, err := postLines(t.Context(), lines, lk, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []JournalLineResult{
		{LineID: "1", Outcome: LinePosted, ERPDocumentNumber: "DOC1"},
		{LineID: "2", Outcome: LineRejected, Rejection: JournalRejectInvalidAmount, RejectionMessage: "currency must be the sales order's (EUR)"},
		{LineID: "3", Outcome: LineDuplicate, ERPDocumentNumber: "DOC-OLD"},
		{LineID: "4", Outcome: LineRejected, Rejection: JournalRejectDocumentRejected, RejectionMessage: "another line of document D2 was rejected"},
		{LineID: "5", Outcome: LineDuplicate, ERPDocumentNumber: "DOC1"},
		{LineID: "6", Outcome: LinePosted, ERPDocumentNumber: "DOC2"},
		{LineID: "7", Outcome: LineRejected, Rejection: JournalRejectInvalidAmount, RejectionMessage: "tax must not be negative"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	b := JournalBatch{Results: got}
	if p, r, d := b.Counts(); p != 2 || r != 3 || d != 2 {
		t.Errorf("Counts = %d, %d, %d", p, r, d)
	}
}
