package storetest

import (
	"errors"
	"fmt"
	"sync"
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
	t.Run("PostingBatches", func(t *testing.T) { t.Parallel(); testPostingBatches(t, h) })
	t.Run("PostingCollectsOnce", func(t *testing.T) { t.Parallel(); testPostingCollectsOnce(t, h) })
}

// provides returns s as a T (an interface every order.Store of the suite
// must implement beside order.Store).
func provides[T any](t *testing.T, s order.Store) T {
	t.Helper()
	v, ok := s.(T)
	if !ok {
		var zero T
		t.Fatalf("%T does not implement %T", s, &zero)
	}
	return v
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
	docs := provides[order.DocumentReader](t, s)
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

// storeDocs stores docs with a change of order id.
func storeDocs(t *testing.T, s order.Store, id string, docs ...order.Document) {
	t.Helper()
	if _, err := s.UpdateOrder(t.Context(), id, nil, func(o *order.Order) (order.Effects, error) {
		o.ERP.LastError += "."
		return order.Effects{Documents: docs}, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func doc(id string, kind order.DocumentKind, o *order.Order, currency string, at time.Time, lines int) order.Document {
	d := order.Document{ID: id, Kind: kind, OrderID: o.ID, CustomerID: o.CustomerID, SourceID: id, Currency: currency, CreatedAt: at}
	for i := range lines {
		d.Lines = append(d.Lines, order.DocumentLine{SourceLineID: fmt.Sprint(i + 1), OrderLineID: "1", SKU: "SKU-00001",
			Quantity: int64(i + 1), UnitPriceMinor: 1000, TaxMinor: 10, AmountMinor: int64(i+1) * 1000})
	}
	return d
}

func account(k order.DocumentKind) string {
	if k == order.DocumentCreditMemo {
		return "4100"
	}
	return "4000"
}

func newBatch(id, req string, kind order.DocumentKind, currency string, cutoff time.Time) order.PostingBatch {
	return order.PostingBatch{ID: id, Kind: kind, Currency: currency, State: order.BatchOpen, CreateRequestID: req,
		Cutoff: cutoff, CreatedAt: cutoff, UpdatedAt: cutoff}
}

func testPostingBatches(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	ps := provides[order.PostingStore](t, s)
	o := NewOrder("O-pb", "C0001", t0)
	create(t, s, o)
	// Invoices: A (2 lines), B (3 lines), C (1 line, after the cutoff);
	// one USD invoice; one credit memo.
	storeDocs(t, s, o.ID,
		doc("O-pb:A", order.DocumentInvoice, o, "EUR", t0.Add(1*time.Minute), 2),
		doc("O-pb:B", order.DocumentInvoice, o, "EUR", t0.Add(2*time.Minute), 3),
		doc("O-pb:C", order.DocumentInvoice, o, "EUR", t0.Add(10*time.Minute), 1),
		doc("O-pb:U", order.DocumentInvoice, o, "USD", t0.Add(1*time.Minute), 1),
		doc("RA-pb", order.DocumentCreditMemo, o, "EUR", t0.Add(1*time.Minute), 1))

	pend, err := ps.PendingPostings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantPend := []order.KindCurrency{{Kind: order.DocumentCreditMemo, Currency: "EUR"}, {Kind: order.DocumentInvoice, Currency: "EUR"}, {Kind: order.DocumentInvoice, Currency: "USD"}}
	if diff := cmp.Diff(wantPend, pend); diff != "" {
		t.Errorf("PendingPostings (-want +got):\n%s", diff)
	}

	// Limit 4 takes A whole but not B (2 + 3 > 4); the cutoff leaves C.
	cut := t0.Add(5 * time.Minute)
	b1, created, err := ps.CreatePostingBatch(ctx, newBatch("PB-1", "req-1", order.DocumentInvoice, "EUR", cut), 4, account)
	if err != nil || !created {
		t.Fatalf("create PB-1: created=%v err=%v", created, err)
	}
	if b1.State != order.BatchOpen || b1.Version != 1 || len(b1.Lines) != 2 || b1.Lines[0].DocumentID != "O-pb:A" || b1.Lines[1].No != 2 {
		t.Fatalf("PB-1 = %+v", b1)
	}
	l := b1.Lines[1]
	wantHash := order.LineHash(order.DocumentInvoice, "O-pb:A", "O-pb", "2", "SKU-00001", 2, 2000, 10, "EUR", "4000")
	if l.Hash != wantHash || l.Account != "4000" || l.CustomerID != "C0001" || l.AmountMinor != 2000 || l.State != order.LinePending {
		t.Errorf("PB-1 line 2 = %+v, want hash %s", l, wantHash)
	}
	// The same request id returns the batch; nothing more is collected.
	again, created, err := ps.CreatePostingBatch(ctx, newBatch("PB-x", "req-1", order.DocumentInvoice, "EUR", cut), 4, account)
	if err != nil || created || again.ID != "PB-1" {
		t.Fatalf("same request id: %s created=%v err=%v", again.ID, created, err)
	}
	// Limit 1 still takes one whole document (B, 3 lines).
	b2, _, err := ps.CreatePostingBatch(ctx, newBatch("PB-2", "req-2", order.DocumentInvoice, "EUR", cut), 1, account)
	if err != nil || len(b2.Lines) != 3 || b2.Lines[2].DocumentID != "O-pb:B" {
		t.Fatalf("PB-2 = %+v, %v", b2, err)
	}
	if _, _, err := ps.CreatePostingBatch(ctx, newBatch("PB-3", "req-3", order.DocumentInvoice, "EUR", cut), 10, account); !errors.Is(err, order.ErrNothingToPost) {
		t.Fatalf("nothing left before the cutoff: err = %v", err)
	}
	if _, err := ps.GetPostingBatch(ctx, "PB-3"); !errors.Is(err, order.ErrPostingBatchNotFound) {
		t.Fatalf("PB-3 after nothing to post: err = %v", err)
	}
	memo, _, err := ps.CreatePostingBatch(ctx, newBatch("PB-M", "", order.DocumentCreditMemo, "EUR", cut), 10, account)
	if err != nil || len(memo.Lines) != 1 || memo.Lines[0].Account != "4100" || memo.Lines[0].DocumentID != "RA-pb" {
		t.Fatalf("credit memo batch = %+v, %v", memo, err)
	}

	// Outcome: line 1 posted, line 2 rejected, in one change with events.
	at := t0.Add(time.Hour)
	got, err := ps.UpdatePostingBatch(ctx, "PB-1", nil, func(b *order.PostingBatch) (order.PostingEffects, error) {
		b.State, b.Attempts, b.ERPBatchReference, b.UpdatedAt, b.SubmittedAt = order.BatchPartiallyRejected, 1, "journalBatches/PB-1", at, at
		b.Lines[0].State, b.Lines[0].ERPDocumentNumber, b.Lines[0].PostedAt, b.Lines[0].Attempts = order.LinePosted, "INV-9", at, 1
		b.Lines[1].State, b.Lines[1].RejectionReason, b.Lines[1].ERPErrorCode, b.Lines[1].Attempts = order.LineRejected, "customer blocked", "UNKNOWN_CUSTOMER", 1
		return order.PostingEffects{Posted: true, Previous: order.BatchOpen, Rejected: []order.PostingLine{b.Lines[1]}, At: at}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := ps.GetPostingBatch(ctx, "PB-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, stored, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored batch after update (-returned +stored):\n%s", diff)
	}
	if stored.Version != 2 || stored.Attempts != 1 || stored.Lines[0].ERPDocumentNumber != "INV-9" || !stored.Lines[0].PostedAt.Equal(at) ||
		stored.Lines[1].RejectionReason != "customer blocked" {
		t.Errorf("PB-1 after outcome = %+v", stored)
	}
	if h.OpsEvents != nil {
		var rejected int
		for _, ev := range h.OpsEvents(t, s) {
			if ev.What == "KIND_POSTING_LINE_REJECTED" && ev.Key == "postingBatches/PB-1/lines/2" {
				rejected++
			}
		}
		if rejected != 1 {
			t.Errorf("%d POSTING_LINE_REJECTED exceptions for PB-1 line 2, want 1", rejected)
		}
	}
	// A key is applied once: the same key again is a duplicate without
	// calling fn, another payload or batch under it is a reused key.
	key := &order.IdempotencyKey{Kind: "posting_retry", Key: "op-retry-1", PayloadHash: "h1"}
	touch := func(b *order.PostingBatch) (order.PostingEffects, error) {
		b.UpdatedAt = at.Add(time.Minute)
		return order.PostingEffects{}, nil
	}
	if b, err := ps.UpdatePostingBatch(ctx, "PB-1", key, touch); err != nil || b.Version != 3 {
		t.Fatalf("update with a key: version %d, %v", b.Version, err)
	}
	if _, err := ps.UpdatePostingBatch(ctx, "PB-1", key, func(*order.PostingBatch) (order.PostingEffects, error) {
		t.Error("fn called for an applied key")
		return order.PostingEffects{}, nil
	}); !errors.Is(err, order.ErrDuplicateEvent) {
		t.Errorf("applied key again: err = %v, want ErrDuplicateEvent", err)
	}
	if _, err := ps.UpdatePostingBatch(ctx, "PB-1", &order.IdempotencyKey{Kind: "posting_retry", Key: "op-retry-1", PayloadHash: "h2"}, touch); !errors.Is(err, order.ErrIdempotencyKeyReused) {
		t.Errorf("key with another payload: err = %v, want ErrIdempotencyKeyReused", err)
	}
	if _, err := ps.UpdatePostingBatch(ctx, "PB-2", key, touch); !errors.Is(err, order.ErrIdempotencyKeyReused) {
		t.Errorf("key on another batch: err = %v, want ErrIdempotencyKeyReused", err)
	}
	// A failing fn stores nothing.
	boom := errors.New("boom")
	if _, err := ps.UpdatePostingBatch(ctx, "PB-1", nil, func(b *order.PostingBatch) (order.PostingEffects, error) {
		b.State = order.BatchPosted
		return order.PostingEffects{}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := ps.GetPostingBatch(ctx, "PB-1"); b.State != order.BatchPartiallyRejected || b.Version != 3 {
		t.Errorf("batch changed by a failed update: %+v", b)
	}
	if _, err := ps.UpdatePostingBatch(ctx, "PB-none", nil, func(*order.PostingBatch) (order.PostingEffects, error) {
		return order.PostingEffects{}, nil
	}); !errors.Is(err, order.ErrPostingBatchNotFound) {
		t.Errorf("update unknown batch: err = %v", err)
	}

	// Unfinished batches: PB-2 and PB-M (open), oldest first; PB-1 is
	// finished.
	unf, err := ps.UnfinishedPostingBatches(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(unf, []string{"PB-2", "PB-M"}) {
		t.Errorf("UnfinishedPostingBatches = %v, want PB-2 and PB-M", unf)
	}

	// Listing: newest first by default, filters, keyset paging.
	list := func(q order.PostingQuery) []string {
		t.Helper()
		bs, err := ps.ListPostingBatches(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range bs {
			ids = append(ids, b.ID)
			if len(b.Lines) == 0 {
				t.Errorf("listed batch %s without lines", b.ID)
			}
		}
		return ids
	}
	// All were created at cut; ties go by id.
	if got := list(order.PostingQuery{}); !cmp.Equal(got, []string{"PB-M", "PB-2", "PB-1"}) {
		t.Errorf("list = %v", got)
	}
	if got := list(order.PostingQuery{Ascending: true, Limit: 2}); !cmp.Equal(got, []string{"PB-1", "PB-2"}) {
		t.Errorf("list ascending limit 2 = %v", got)
	}
	if got := list(order.PostingQuery{Ascending: true, AfterTime: cut, AfterID: "PB-2"}); !cmp.Equal(got, []string{"PB-M"}) {
		t.Errorf("list after PB-2 = %v", got)
	}
	if got := list(order.PostingQuery{Kind: order.DocumentCreditMemo}); !cmp.Equal(got, []string{"PB-M"}) {
		t.Errorf("list credit memos = %v", got)
	}
	if got := list(order.PostingQuery{State: order.BatchPartiallyRejected}); !cmp.Equal(got, []string{"PB-1"}) {
		t.Errorf("list partially rejected = %v", got)
	}
	if got := list(order.PostingQuery{Currency: "USD"}); len(got) != 0 {
		t.Errorf("list USD = %v", got)
	}
	if got := list(order.PostingQuery{CreatedBefore: cut}); len(got) != 0 {
		t.Errorf("list before cut = %v", got)
	}
	if got := list(order.PostingQuery{CreatedFrom: cut, Kind: order.DocumentInvoice}); !cmp.Equal(got, []string{"PB-2", "PB-1"}) {
		t.Errorf("list invoices from cut = %v", got)
	}
	pend, _ = ps.PendingPostings(ctx)
	if diff := cmp.Diff([]order.KindCurrency{{Kind: order.DocumentInvoice, Currency: "EUR"}, {Kind: order.DocumentInvoice, Currency: "USD"}}, pend); diff != "" {
		t.Errorf("PendingPostings after batching (-want +got):\n%s", diff)
	}
}

// testPostingCollectsOnce: concurrent collections never put a document
// line in two batches.
func testPostingCollectsOnce(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	ps := provides[order.PostingStore](t, s)
	o := NewOrder("O-pc", "C0001", t0)
	create(t, s, o)
	for i := range 20 {
		storeDocs(t, s, o.ID, doc(fmt.Sprintf("O-pc:%02d", i), order.DocumentInvoice, o, "EUR", t0.Add(time.Duration(i)*time.Second), 2))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lines = map[string]int{}
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				b, _, err := ps.CreatePostingBatch(ctx, newBatch(fmt.Sprintf("PB-%d-%d", w, i), "", order.DocumentInvoice, "EUR", t0.Add(time.Hour)), 6, account)
				if errors.Is(err, order.ErrNothingToPost) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, l := range b.Lines {
					lines[l.DocumentID+"/"+l.SourceLineID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(lines) != 40 {
		t.Errorf("%d distinct lines batched, want 40", len(lines))
	}
	for k, n := range lines {
		if n != 1 {
			t.Errorf("line %s in %d batches", k, n)
		}
	}
}
