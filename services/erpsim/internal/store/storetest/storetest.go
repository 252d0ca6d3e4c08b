// Package storetest is the conformance suite every erp.Store passes. Run
// it on a fresh, migrated store: Run seeds it with the demo data once, and
// the sub-suites share it, each with its own order ids and customers so
// that none depends on another's writes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/transload/transload/services/erpsim/internal/erp"
)

var now = time.Date(2026, time.March, 2, 10, 0, 0, 0, time.UTC)

func accept(erp.DecisionInput) erp.Decision { return erp.Decision{Accepted: true} }

func order(id, customer string, total int64, skus ...string) erp.SalesOrder {
	o := erp.SalesOrder{
		OrderID: id, CustomerID: customer, Channel: erp.ChannelWeb, Currency: erp.Currency,
		GrandTotalMinor: total, Payload: []byte("payload-" + id), Fingerprint: "fp-" + id,
	}
	for i, sku := range skus {
		o.Lines = append(o.Lines, erp.OrderLine{LineID: fmt.Sprint(i + 1), SKU: sku, Quantity: 1})
	}
	return o
}

// Run runs the suite against s, which must be freshly migrated and empty.
func Run(t *testing.T, s erp.Store) {
	seeded, err := s.Seed(t.Context(), erp.DemoSeed(), now)
	if err != nil || !seeded {
		t.Fatalf("Seed = %v, %v; want true, nil", seeded, err)
	}
	for _, sub := range []struct {
		name string
		test func(*testing.T, erp.Store)
	}{
		{"SeedOnce", testSeedOnce},
		{"CustomerRoundTrip", testCustomerRoundTrip},
		{"CustomersPaging", testCustomersPaging},
		{"SubmitNewThenDuplicate", testSubmitNewThenDuplicate},
		{"SubmitRejectedKeepsReason", testSubmitRejectedKeepsReason},
		{"SubmitUnknownCustomer", testSubmitUnknownCustomer},
		{"ConcurrentDuplicates", testConcurrentDuplicates},
		{"Cancel", testCancel},
		{"SalesOrdersListed", testSalesOrdersListed},
		{"StockSnapshotAndFeed", testStockSnapshotAndFeed},
		{"ExportsMatchSeed", testExportsMatchSeed},
		{"JournalBatch", testJournalBatch},
		{"JournalLookup", testJournalLookup},
		{"PriceFeed", testPriceFeed},
		{"ContractFeed", testContractFeed},
	} {
		t.Run(sub.name, func(t *testing.T) { sub.test(t, s) })
	}
}

// testSeedOnce: a second Seed changes nothing and says so.
func testSeedOnce(t *testing.T, s erp.Store) {
	ctx := t.Context()
	again, err := s.Seed(ctx, erp.DemoSeed(), now)
	if err != nil || again {
		t.Fatalf("second Seed = %v, %v; want false, nil", again, err)
	}
	ok, err := s.Seeded(ctx)
	if err != nil || !ok {
		t.Fatalf("Seeded = %v, %v", ok, err)
	}
}

// testCustomerRoundTrip: a seeded customer reads back as seeded; an
// unknown id is a *NotFoundError.
func testCustomerRoundTrip(t *testing.T, s erp.Store) {
	ctx := t.Context()
	want := erp.DemoSeed().Customers[0]
	got, err := s.Customer(ctx, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("customer (-want +got):\n%s", diff)
	}
	_, err = s.Customer(ctx, "C9999")
	var nf *erp.NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, erp.ErrCustomerNotFound) || nf.ID != "C9999" {
		t.Errorf("unknown customer: err = %v", err)
	}
}

// testCustomersPaging: the (update time, id) cursor walks every customer
// once, in order; min_update_time filters.
func testCustomersPaging(t *testing.T, s erp.Store) {
	ctx := t.Context()
	var (
		ids   []string
		after erp.CustomerCursor
	)
	for range 10 {
		page, err := s.Customers(ctx, time.Time{}, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			ids = append(ids, c.ID)
		}
		if len(page) < 7 {
			break
		}
		last := page[len(page)-1]
		after = erp.CustomerCursor{UpdateTime: last.UpdateTime, ID: last.ID}
	}
	if len(ids) != erp.DemoCustomers || ids[0] != "C0001" || ids[19] != "C0020" {
		t.Errorf("paged ids = %v", ids)
	}
	later, err := s.Customers(ctx, erp.SeedTime.Add(time.Second), erp.CustomerCursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range later {
		if !c.UpdateTime.After(erp.SeedTime) {
			t.Errorf("min_update_time filter returned %s updated %s", c.ID, c.UpdateTime)
		}
	}
}

// testSubmitNewThenDuplicate: a new order is decided once and books
// credit; a resubmission counts but changes nothing; another payload under
// the id is key reuse.
func testSubmitNewThenDuplicate(t *testing.T, s erp.Store) {
	ctx := t.Context()
	before, _ := s.Customer(ctx, "C0002")
	o := order("st-ord-1", "C0002", 12345, "SKU-00001", "SKU-00002")
	var sawProducts int
	got, dup, err := s.SubmitSalesOrder(ctx, o, now, func(in erp.DecisionInput) erp.Decision {
		if in.Customer == nil || in.Customer.ID != "C0002" {
			t.Errorf("decide: customer = %+v", in.Customer)
		}
		sawProducts = len(in.Products)
		return erp.Decision{Accepted: true}
	})
	if err != nil || dup {
		t.Fatalf("first submit: dup=%v err=%v", dup, err)
	}
	if sawProducts != 2 {
		t.Errorf("decide saw %d products, want 2", sawProducts)
	}
	if got.State != erp.OrderAccepted || got.ERPOrderNumber == "" || got.Submissions != 1 {
		t.Errorf("first submit = %+v", got)
	}
	after, _ := s.Customer(ctx, "C0002")
	if after.OpenBalanceMinor != before.OpenBalanceMinor+12345 {
		t.Errorf("open balance %d → %d, want +12345", before.OpenBalanceMinor, after.OpenBalanceMinor)
	}
	again, dup, err := s.SubmitSalesOrder(ctx, o, now.Add(time.Minute), func(erp.DecisionInput) erp.Decision {
		t.Error("decide called for a duplicate")
		return erp.Decision{}
	})
	if err != nil || !dup {
		t.Fatalf("second submit: dup=%v err=%v", dup, err)
	}
	if again.ERPOrderNumber != got.ERPOrderNumber || again.Submissions != 2 || !again.CreateTime.Equal(got.CreateTime) {
		t.Errorf("duplicate = %+v, want original with 2 submissions", again)
	}
	if c, _ := s.Customer(ctx, "C0002"); c.OpenBalanceMinor != after.OpenBalanceMinor {
		t.Errorf("duplicate booked credit again: %d", c.OpenBalanceMinor)
	}
	reuse := o
	reuse.Fingerprint = "other"
	if _, _, err := s.SubmitSalesOrder(ctx, reuse, now, accept); !errors.Is(err, erp.ErrIdempotencyKeyReused) {
		t.Errorf("different payload: err = %v, want ErrIdempotencyKeyReused", err)
	}
	stored, err := s.SalesOrder(ctx, "st-ord-1")
	if err != nil || stored.Submissions != 2 || string(stored.Payload) != "payload-st-ord-1" {
		t.Errorf("SalesOrder = %+v, %v", stored, err)
	}
}

// testSubmitRejectedKeepsReason: a rejection is final for the order id.
func testSubmitRejectedKeepsReason(t *testing.T, s erp.Store) {
	ctx := t.Context()
	o := order("st-ord-rej", "C0003", 100, "SKU-00003")
	got, _, err := s.SubmitSalesOrder(ctx, o, now, func(erp.DecisionInput) erp.Decision {
		return erp.Decision{Reason: erp.RejectCreditLimit, Message: "too much"}
	})
	if err != nil || got.State != erp.OrderRejected || got.RejectionReason != erp.RejectCreditLimit || got.ERPOrderNumber != "" {
		t.Fatalf("rejected submit = %+v, %v", got, err)
	}
	again, dup, err := s.SubmitSalesOrder(ctx, o, now, accept)
	if err != nil || !dup || again.State != erp.OrderRejected || again.RejectionMessage != "too much" {
		t.Errorf("resubmit of rejected = %+v dup=%v err=%v", again, dup, err)
	}
}

// testSubmitUnknownCustomer: decide sees no customer and no products.
func testSubmitUnknownCustomer(t *testing.T, s erp.Store) {
	ctx := t.Context()
	var sawNil bool
	got, _, err := s.SubmitSalesOrder(ctx, order("st-ord-nocust", "C9999", 1, "SKU-99999"), now, func(in erp.DecisionInput) erp.Decision {
		sawNil = in.Customer == nil && len(in.Products) == 0
		return erp.Decision{Reason: erp.RejectUnknownCustomer}
	})
	if err != nil || !sawNil || got.State != erp.OrderRejected {
		t.Errorf("unknown customer: %+v sawNil=%v err=%v", got, sawNil, err)
	}
}

// testConcurrentDuplicates: concurrent first submissions of one id record
// one order, with and without a customer row to lock.
func testConcurrentDuplicates(t *testing.T, s erp.Store) {
	ctx := t.Context()
	for _, customer := range []string{"C0004", "C9998"} { // known (row lock) and unknown customer
		id := "st-ord-conc-" + customer
		submitted := make([]erp.SalesOrder, 20)
		dup := make([]bool, len(submitted))
		var g errgroup.Group
		for i := range submitted {
			g.Go(func() (err error) {
				submitted[i], dup[i], err = s.SubmitSalesOrder(ctx, order(id, customer, 500, "SKU-00004"), now, accept)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatalf("%s: concurrent submit: %v", customer, err)
		}
		numbers, dups := map[string]int{}, 0
		for i, o := range submitted {
			numbers[o.ERPOrderNumber]++
			if dup[i] {
				dups++
			}
		}
		if len(numbers) != 1 || dups != 19 {
			t.Errorf("%s: ERP numbers %v, duplicates %d; want one number and 19 duplicates", customer, numbers, dups)
		}
		stored, err := s.SalesOrder(ctx, id)
		if err != nil || stored.Submissions != 20 {
			t.Errorf("%s: stored %+v, %v; want 20 submissions", customer, stored, err)
		}
	}
}

// testCancel: cancelling releases the credit once; unknown ids are not
// found.
func testCancel(t *testing.T, s erp.Store) {
	ctx := t.Context()
	before, _ := s.Customer(ctx, "C0005")
	if _, _, err := s.SubmitSalesOrder(ctx, order("st-ord-cancel", "C0005", 700, "SKU-00005"), now, accept); err != nil {
		t.Fatal(err)
	}
	got, err := s.CancelSalesOrder(ctx, "st-ord-cancel", "customer request", now.Add(time.Hour))
	if err != nil || got.State != erp.OrderCancelled {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	if c, _ := s.Customer(ctx, "C0005"); c.OpenBalanceMinor != before.OpenBalanceMinor {
		t.Errorf("open balance after cancel = %d, want %d", c.OpenBalanceMinor, before.OpenBalanceMinor)
	}
	again, err := s.CancelSalesOrder(ctx, "st-ord-cancel", "again", now.Add(2*time.Hour))
	if err != nil || again.State != erp.OrderCancelled || !again.UpdateTime.Equal(got.UpdateTime) {
		t.Errorf("second cancel = %+v, %v; want unchanged", again, err)
	}
	if _, err := s.CancelSalesOrder(ctx, "st-nope", "", now); !errors.Is(err, erp.ErrSalesOrderNotFound) {
		t.Errorf("cancel unknown: err = %v", err)
	}
}

// testSalesOrdersListed: every order once, in submission order.
func testSalesOrdersListed(t *testing.T, s erp.Store) {
	ctx := t.Context()
	ids := []string{"st-list-1", "st-list-2", "st-list-3"}
	for _, id := range ids {
		if _, _, err := s.SubmitSalesOrder(ctx, order(id, "C0009", 10, "SKU-00009"), now, accept); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.SubmitSalesOrder(ctx, order(ids[0], "C0009", 10, "SKU-00009"), now, accept); err != nil {
		t.Fatal(err)
	}
	all, err := s.SalesOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, o := range all {
		if o.CustomerID == "C0009" {
			listed = append(listed, o.OrderID)
		}
	}
	if diff := cmp.Diff(ids, listed); diff != "" {
		t.Errorf("sales orders of C0009, once each in submission order (-want +got):\n%s", diff)
	}
}

// testStockSnapshotAndFeed: recorded movements change the stock, follow
// the movement rules and appear in the feed after the snapshot position.
func testStockSnapshotAndFeed(t *testing.T, s erp.Store) {
	ctx := t.Context()
	snap, err := s.StockSnapshot(ctx, erp.StockFilter{SKUs: []string{erp.ScarceSKU}})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range snap.Rows {
		total += r.OnHand
	}
	if total != erp.ScarceSKUTotal || len(snap.Rows) != 3 {
		t.Errorf("scarce SKU rows %+v total %d", snap.Rows, total)
	}
	ev, err := s.RecordStockEvent(ctx, erp.StockEvent{SKU: "SKU-00010", WarehouseCode: "WH-MUC", Kind: erp.StockReceipt, Quantity: 5, OccurTime: now})
	if err != nil {
		t.Fatal(err)
	}
	if ev.SourceSequence != 1 || ev.EventID == "" || ev.Seq != snap.FeedSeq+1 || ev.UoM != "EA" {
		t.Errorf("recorded event = %+v", ev)
	}
	ev2, err := s.RecordStockEvent(ctx, erp.StockEvent{SKU: "SKU-00010", WarehouseCode: "WH-MUC", Kind: erp.StockSetOnHand, Quantity: 7, OccurTime: now})
	if err != nil || ev2.SourceSequence != 2 {
		t.Fatalf("second event = %+v, %v", ev2, err)
	}
	if _, err := s.RecordStockEvent(ctx, erp.StockEvent{SKU: "SKU-00010", WarehouseCode: "WH-MUC", Kind: erp.StockShipment, Quantity: -8, OccurTime: now}); !errors.Is(err, erp.ErrInvalidStockEvent) {
		t.Errorf("negative on-hand: err = %v", err)
	}
	if _, err := s.RecordStockEvent(ctx, erp.StockEvent{SKU: "SKU-X", WarehouseCode: "WH-MUC", Kind: erp.StockReceipt, Quantity: 1, OccurTime: now}); !errors.Is(err, erp.ErrInvalidStockEvent) {
		t.Errorf("unknown SKU: err = %v", err)
	}
	evs, head, err := s.StockEvents(ctx, snap.FeedSeq, 1)
	if err != nil || len(evs) != 1 || evs[0].EventID != ev.EventID || head != ev2.Seq {
		t.Fatalf("StockEvents = %+v head %d, %v", evs, head, err)
	}
	if diff := cmp.Diff(ev, evs[0]); diff != "" {
		t.Errorf("event read back (-recorded +read):\n%s", diff)
	}
	after, err := s.StockSnapshot(ctx, erp.StockFilter{SKUs: []string{"SKU-00010"}, Warehouses: []string{"WH-MUC"}})
	if err != nil || len(after.Rows) != 1 || after.Rows[0].OnHand != 7 || after.Rows[0].SourceSequence != 2 || after.FeedSeq != ev2.Seq {
		t.Errorf("snapshot after events = %+v, %v", after, err)
	}
}

// testExportsMatchSeed: products, prices and warehouses read back as
// seeded.
func testExportsMatchSeed(t *testing.T, s erp.Store) {
	ctx := t.Context()
	seed := erp.DemoSeed()
	products, err := s.Products(ctx, time.Time{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seed.Products, products); diff != "" {
		t.Errorf("products (-seed +stored):\n%s", diff)
	}
	pls, err := s.PriceLists(ctx, nil)
	if err != nil || len(pls) != 2 {
		t.Fatalf("price lists = %+v, %v", pls, err)
	}
	lps, err := s.ListPrices(ctx, []string{erp.PriceListStandard})
	if err != nil || len(lps) != erp.DemoSKUs || lps[0].UnitPriceMinor != erp.StandardPriceMinor(1) {
		t.Errorf("standard list prices: %d rows, first %+v, %v", len(lps), lps[0], err)
	}
	if _, err := s.PriceLists(ctx, []string{"PL-NOPE"}); !errors.Is(err, erp.ErrPriceListNotFound) {
		t.Errorf("unknown price list: err = %v", err)
	}
	whs, err := s.Warehouses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seed.Warehouses, whs); diff != "" {
		t.Errorf("warehouses (-seed +stored):\n%s", diff)
	}
}

// journalBatch is a one-line invoice batch for an order of customer.
func journalBatch(id, orderID, customer, lineHash string) erp.JournalBatch {
	return erp.JournalBatch{BatchID: id, Kind: erp.JournalInvoice, Payload: []byte("payload-" + id), Fingerprint: "fp-" + id,
		Lines: []erp.JournalLine{{LineID: "1", DocumentID: "INV-" + id, OrderID: orderID, CustomerID: customer, LineHash: lineHash,
			AmountMinor: 1000, Currency: erp.Currency, TaxCurrency: erp.Currency, Account: "8400"}}}
}

// postLine posts every line of a batch with a new document number.
func postLine(ctx context.Context, lk erp.JournalLookup) ([]erp.JournalLineResult, error) {
	num, err := lk.NextDocumentNumber(ctx)
	if err != nil {
		return nil, err
	}
	return []erp.JournalLineResult{{LineID: "1", Outcome: erp.LinePosted, ERPDocumentNumber: num}}, nil
}

// testJournalBatch: a batch is posted once; a repost returns it without
// posting again; another payload under its id is key reuse.
func testJournalBatch(t *testing.T, s erp.Store) {
	ctx := t.Context()
	if _, _, err := s.SubmitSalesOrder(ctx, order("st-ord-fi", "C0006", 1000, "SKU-00006"), now, accept); err != nil {
		t.Fatal(err)
	}
	batch := journalBatch("st-batch-1", "st-ord-fi", "C0006", "h1")
	got, dup, err := s.PostJournalBatch(ctx, batch, now, postLine)
	if err != nil || dup || len(got.Results) != 1 || got.Results[0].ERPDocumentNumber == "" {
		t.Fatalf("post = %+v dup=%v err=%v", got, dup, err)
	}
	again, dup, err := s.PostJournalBatch(ctx, batch, now, func(context.Context, erp.JournalLookup) ([]erp.JournalLineResult, error) {
		return nil, errors.New("post called for a duplicate batch")
	})
	if err != nil || !dup {
		t.Fatalf("repost: dup=%v err=%v", dup, err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("repost (-original +repost):\n%s", diff)
	}
	if stored, err := s.JournalBatch(ctx, "st-batch-1"); err != nil || !cmp.Equal(got, stored) {
		t.Errorf("JournalBatch = %+v, %v; want the posted batch", stored, err)
	}
	reuse := batch
	reuse.Fingerprint = "other"
	if _, _, err := s.PostJournalBatch(ctx, reuse, now, postLine); !errors.Is(err, erp.ErrIdempotencyKeyReused) {
		t.Errorf("batch key reuse: err = %v", err)
	}
	if _, err := s.JournalBatch(ctx, "st-nope"); !errors.Is(err, erp.ErrJournalBatchNotFound) {
		t.Errorf("unknown batch: err = %v", err)
	}
}

// testJournalLookup: what the posting rules ask inside the transaction:
// customers, accepted orders and lines an earlier batch posted.
func testJournalLookup(t *testing.T, s erp.Store) {
	ctx := t.Context()
	if _, _, err := s.SubmitSalesOrder(ctx, order("st-ord-lk", "C0008", 1000, "SKU-00008"), now, accept); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SubmitSalesOrder(ctx, order("st-ord-lk-rej", "C0008", 1000, "SKU-00008"), now, func(erp.DecisionInput) erp.Decision {
		return erp.Decision{Reason: erp.RejectOther}
	}); err != nil {
		t.Fatal(err)
	}
	first, _, err := s.PostJournalBatch(ctx, journalBatch("st-batch-lk-1", "st-ord-lk", "C0008", "h-lk"), now, postLine)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.PostJournalBatch(ctx, journalBatch("st-batch-lk-2", "st-ord-lk", "C0008", "h-lk"), now,
		func(ctx context.Context, lk erp.JournalLookup) ([]erp.JournalLineResult, error) {
			if ok, err := lk.CustomerExists(ctx, "C0008"); err != nil || !ok {
				return nil, fmt.Errorf("CustomerExists(C0008) = %v, %w", ok, err)
			}
			if ok, err := lk.CustomerExists(ctx, "C9999"); err != nil || ok {
				return nil, fmt.Errorf("CustomerExists(C9999) = %v, %w", ok, err)
			}
			if cur, ok, err := lk.AcceptedOrderCurrency(ctx, "st-ord-lk"); err != nil || !ok || cur != erp.Currency {
				return nil, fmt.Errorf("AcceptedOrderCurrency(accepted) = %q %v, %w", cur, ok, err)
			}
			if _, ok, err := lk.AcceptedOrderCurrency(ctx, "st-ord-lk-rej"); err != nil || ok {
				return nil, fmt.Errorf("AcceptedOrderCurrency(rejected) = %v, %w; want not accepted", ok, err)
			}
			posted, found, err := lk.PostedLine(ctx, "h-lk")
			if err != nil || !found || posted != first.Results[0].ERPDocumentNumber {
				return nil, fmt.Errorf("PostedLine = %q %v, %w; want %s", posted, found, err, first.Results[0].ERPDocumentNumber)
			}
			return []erp.JournalLineResult{{LineID: "1", Outcome: erp.LineDuplicate, ERPDocumentNumber: posted}}, nil
		})
	if err != nil {
		t.Error(err)
	}
}

// testPriceFeed: price changes set the list price the export reads, are
// numbered without gaps, and a change naming an unknown price list or SKU
// changes nothing.
func testPriceFeed(t *testing.T, s erp.Store) {
	ctx := t.Context()
	_, head0, err := s.PriceEvents(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	lps, err := s.ListPrices(ctx, []string{erp.PriceListStandard})
	if err != nil || len(lps) == 0 {
		t.Fatalf("ListPrices = %d, %v", len(lps), err)
	}
	target := lps[0]
	evs, err := s.RecordPriceChanges(ctx, erp.PriceChanges{ListPrices: []erp.ListPrice{{PriceListID: target.PriceListID, SKU: target.SKU, UnitPriceMinor: target.UnitPriceMinor + 101}}}, now)
	if err != nil || len(evs) != 1 || evs[0].Seq != head0+1 || evs[0].Price.UoM != target.UoM || evs[0].Currency == "" {
		t.Fatalf("RecordPriceChanges = %+v, %v", evs, err)
	}
	if _, err := s.RecordPriceChanges(ctx, erp.PriceChanges{ListPrices: []erp.ListPrice{
		{PriceListID: target.PriceListID, SKU: target.SKU, UnitPriceMinor: 1},
		{PriceListID: "NOPE", SKU: target.SKU, UnitPriceMinor: 1},
	}}, now); !errors.Is(err, erp.ErrInvalidPriceChange) {
		t.Errorf("unknown price list: err = %v", err)
	}
	if _, err := s.RecordPriceChanges(ctx, erp.PriceChanges{ListPrices: []erp.ListPrice{{PriceListID: target.PriceListID, SKU: "SKU-X", UnitPriceMinor: 1}}}, now); !errors.Is(err, erp.ErrInvalidPriceChange) {
		t.Errorf("unknown SKU: err = %v", err)
	}
	got, head, err := s.PriceEvents(ctx, head0, 10)
	if err != nil || head != head0+1 || len(got) != 1 {
		t.Fatalf("PriceEvents = %+v head %d, %v (the failed changes must not be recorded)", got, head, err)
	}
	if diff := cmp.Diff(evs[0], got[0]); diff != "" {
		t.Errorf("event read back (-recorded +read):\n%s", diff)
	}
	after, err := s.ListPrices(ctx, []string{erp.PriceListStandard})
	if err != nil {
		t.Fatal(err)
	}
	for _, lp := range after {
		if lp.SKU == target.SKU && lp.UoM == target.UoM && lp.UnitPriceMinor != target.UnitPriceMinor+101 {
			t.Errorf("list price after change = %d, want %d", lp.UnitPriceMinor, target.UnitPriceMinor+101)
		}
	}
}

// testContractFeed: the seed's contracts are kept; a contract change
// replaces the whole contract, fills empty units with the product's and
// appends one event carrying the contract, numbered after the list price
// changes of the same call; an unknown customer or SKU changes nothing.
func testContractFeed(t *testing.T, s erp.Store) {
	ctx := t.Context()
	got, err := s.Contracts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(erp.DemoContracts(), got); diff != "" {
		t.Fatalf("seeded contracts (-want +got):\n%s", diff)
	}
	_, head0, err := s.PriceEvents(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := erp.Contract{ID: "CTR-STORETEST", CustomerID: erp.CustomerID(7), DisplayName: "store test", Start: now.Add(-time.Hour),
		Prices: []erp.ContractPrice{{SKU: erp.SKU(3), UnitPriceMinor: 1234}, {SKU: erp.SKU(4), UoM: "EA", DiscountBps: 700}}}
	lp := erp.ListPrice{PriceListID: erp.PriceListStandard, SKU: erp.SKU(9), UnitPriceMinor: 999}
	evs, err := s.RecordPriceChanges(ctx, erp.PriceChanges{ListPrices: []erp.ListPrice{lp}, Contracts: []erp.Contract{c}}, now)
	if err != nil || len(evs) != 2 || evs[0].Seq != head0+1 || evs[0].Contract != nil || evs[1].Seq != head0+2 || evs[1].Contract == nil {
		t.Fatalf("RecordPriceChanges = %+v, %v", evs, err)
	}
	want := c
	want.Prices = []erp.ContractPrice{{SKU: erp.SKU(3), UoM: "EA", UnitPriceMinor: 1234}, {SKU: erp.SKU(4), UoM: "EA", DiscountBps: 700}}
	if diff := cmp.Diff(want, *evs[1].Contract); diff != "" {
		t.Errorf("recorded contract (-want +got):\n%s", diff)
	}
	for name, bad := range map[string]erp.Contract{
		"unknown customer": {ID: "CTR-STORETEST", CustomerID: "C9999", Prices: c.Prices},
		"unknown SKU":      {ID: "CTR-STORETEST", CustomerID: c.CustomerID, Prices: []erp.ContractPrice{{SKU: "SKU-X", UnitPriceMinor: 1}}},
	} {
		_, err := s.RecordPriceChanges(ctx, erp.PriceChanges{ListPrices: []erp.ListPrice{lp}, Contracts: []erp.Contract{bad}}, now)
		var inv *erp.InvalidPriceChangeError
		if !errors.As(err, &inv) || !strings.HasPrefix(inv.Field, "contracts[0].") {
			t.Errorf("%s: err = %v, want an *InvalidPriceChangeError on contracts[0]", name, err)
		}
	}
	// A replacement is the whole contract: SKU-00004 is no longer in it.
	repl := erp.Contract{ID: c.ID, CustomerID: c.CustomerID, DisplayName: "replaced", Start: c.Start,
		Prices: []erp.ContractPrice{{SKU: erp.SKU(3), UoM: "EA", UnitPriceMinor: 1111}}}
	if _, err := s.RecordPriceChanges(ctx, erp.PriceChanges{Contracts: []erp.Contract{repl}}, now); err != nil {
		t.Fatal(err)
	}
	feed, head, err := s.PriceEvents(ctx, head0, 10)
	if err != nil || head != head0+3 || len(feed) != 3 {
		t.Fatalf("PriceEvents = %+v head %d, %v (the failed changes must not be recorded)", feed, head, err)
	}
	if diff := cmp.Diff(evs, feed[:2]); diff != "" {
		t.Errorf("events read back (-recorded +read):\n%s", diff)
	}
	if diff := cmp.Diff(repl, *feed[2].Contract); diff != "" {
		t.Errorf("replacement event (-want +got):\n%s", diff)
	}
	all, err := s.Contracts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range all {
		if k.ID == c.ID {
			found = true
			if diff := cmp.Diff(repl, k); diff != "" {
				t.Errorf("stored contract (-want +got):\n%s", diff)
			}
		}
	}
	if !found || len(all) != len(erp.DemoContracts())+1 {
		t.Errorf("Contracts = %+v", all)
	}
	if _, err := s.Seed(ctx, erp.DemoSeed(), now); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Contracts(ctx); err != nil || len(again) != len(all) {
		t.Errorf("after a second Seed: %d contracts, %v; want %d (seeded once)", len(again), err, len(all))
	}
}
