package grpcapi_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/opsevents/opseventstest"
	"github.com/transload/transload/services/order/internal/grpcapi"
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

// fakeJournal is an ERP finance module as erp.v1 describes it: it posts
// each line hash once (a hash posted before is answered DUPLICATE with
// its first document number), answers a journal batch id it has seen with
// its first results, rejects lines of blocked customers, and can be down
// or lose its answers after posting.
type fakeJournal struct {
	mu       sync.Mutex
	posted   map[string]string // hash -> document number
	posts    map[string]int    // hash -> times posted
	batches  map[string]order.JournalAnswer
	blocked  map[string]bool // customer ids
	down     bool
	loseNext bool
	calls    int
	// refuse answers the first batch it sees with a permanent error while
	// set (refused remembers which).
	refuse  bool
	refused string
}

func newFakeJournal() *fakeJournal {
	return &fakeJournal{posted: map[string]string{}, posts: map[string]int{}, batches: map[string]order.JournalAnswer{}, blocked: map[string]bool{}}
}

func (j *fakeJournal) PostJournalBatch(_ context.Context, journalID string, b order.PostingBatch, lines []order.PostingLine) (order.JournalAnswer, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls++
	if j.down {
		return order.JournalAnswer{}, &order.DependencyError{Target: "erp", Err: errors.New("down")}
	}
	if j.refuse && (j.refused == "" || strings.HasPrefix(journalID, j.refused)) {
		j.refused = b.ID
		return order.JournalAnswer{}, errors.New("erp PostJournalBatch: INVALID_ARGUMENT")
	}
	if ans, ok := j.batches[journalID]; ok {
		return ans, nil
	}
	ans := order.JournalAnswer{Reference: "journalBatches/" + journalID}
	for _, l := range lines {
		o := order.JournalOutcome{LineID: l.ID()}
		switch doc, ok := j.posted[l.Hash]; {
		case ok:
			o.State, o.ERPDocumentNumber = order.LineDuplicate, doc
		case j.blocked[l.CustomerID]:
			o.State, o.RejectionReason, o.ERPErrorCode = order.LineRejected, "customer "+l.CustomerID+" blocked for posting", "UNKNOWN_CUSTOMER"
		default:
			doc := fmt.Sprintf("FI-%04d", len(j.posted)+1)
			j.posted[l.Hash], j.posts[l.Hash] = doc, j.posts[l.Hash]+1
			o.State, o.ERPDocumentNumber = order.LinePosted, doc
		}
		ans.Outcomes = append(ans.Outcomes, o)
	}
	j.batches[journalID] = ans
	if j.loseNext {
		j.loseNext = false
		return order.JournalAnswer{}, &order.DependencyError{Target: "erp", Err: context.DeadlineExceeded}
	}
	return ans, nil
}

func (j *fakeJournal) set(f func(j *fakeJournal)) { j.mu.Lock(); defer j.mu.Unlock(); f(j) }

// postedOnce checks that every hash was posted at most once and returns
// how many lines are posted.
func (j *fakeJournal) postedOnce(t *testing.T) int {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for h, n := range j.posts {
		if n != 1 {
			t.Errorf("line %s posted %d times", h, n)
		}
	}
	return len(j.posted)
}

// shipOrders places n confirmed orders (customers from customers, in
// turn), ships each whole in one shipment and returns the shipped value.
func (e *env) shipOrders(t *testing.T, prefix string, n int, customers ...string) int64 {
	t.Helper()
	var value int64
	for i := range n {
		id := e.createConfirmed(t, createReq(fmt.Sprintf("%s-%d", prefix, i), customers[i%len(customers)], line{"SKU-00001", 2}, line{"SKU-00002", 1}))
		if _, err := e.client.RecordShipmentProgress(t.Context(), progress(id, "ev-"+id, "S1", "WH-HAM",
			orderv1.ShipmentMilestone_SHIPMENT_MILESTONE_SHIPPED, map[string]int64{"1": 2, "2": 1})); err != nil {
			t.Fatal(err)
		}
		value += e.get(t, id).GetTotals().GetSubtotal().GetAmountMinor()
	}
	return value
}

func (e *env) poster(t *testing.T, j order.Journal, cfg order.PostingConfig) *order.Poster {
	t.Helper()
	p, err := order.NewPoster(cfg, e.store, j, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// postingExceptions counts the POSTING_LINE_REJECTED exceptions in the
// outbox.
func (e *env) postingExceptions(t *testing.T) int {
	t.Helper()
	var n int
	for _, m := range opseventstest.Read(t, e.db).All {
		if ev, ok := m.(*opsv1.ExceptionRaisedEvent); ok && ev.GetKind() == opsv1.Exception_KIND_POSTING_LINE_REJECTED {
			n++
		}
	}
	return n
}

// TestPosterRejectsThenRetries: the scheduler posts every shipped line
// once in batches of the configured size; the lines of a blocked customer
// are rejected with one exception each and stay unposted until
// RetryPostingLines posts them after the fix; posted totals match the
// shipped value.
func TestPosterRejectsThenRetries(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		value := e.shipOrders(t, "pr", 6, "C0001", "C0002", "C0007")
		j := newFakeJournal()
		j.blocked["C0007"] = true
		p := e.poster(t, j, order.PostingConfig{BatchSize: 5})
		srv := grpcapi.New(e.svc, e.worker, quiet).WithPoster(p)
		if err := p.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		list, err := srv.ListPostingBatches(ctx, &orderv1.ListPostingBatchesRequest{OrderBy: "create_time"})
		if err != nil {
			t.Fatal(err)
		}
		var lines, posted, rejected int
		var rejectedBatches []string
		for _, b := range list.GetPostingBatches() {
			if len(b.GetLines()) > 5 {
				t.Errorf("batch %s has %d lines, more than the batch size", b.GetPostingBatchId(), len(b.GetLines()))
			}
			lines += len(b.GetLines())
			posted += int(b.GetPostedLineCount())
			rejected += int(b.GetRejectedLineCount())
			if b.GetRejectedLineCount() > 0 {
				rejectedBatches = append(rejectedBatches, b.GetName())
			}
		}
		if lines != 12 || rejected != 4 || posted != 8 {
			t.Fatalf("after the first pass: %d lines, %d posted, %d rejected; want 12, 8, 4", lines, posted, rejected)
		}
		if n := e.postingExceptions(t); n != 4 {
			t.Errorf("%d posting exceptions, want 4", n)
		}
		// Nothing left to collect; a second pass posts nothing more.
		if err := p.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		if n := j.postedOnce(t); n != 8 {
			t.Fatalf("ERP holds %d lines, want 8", n)
		}
		_, err = srv.CreatePostingBatch(ctx, &orderv1.CreatePostingBatchRequest{RequestId: "op-1",
			PostingBatch: &orderv1.PostingBatch{Kind: orderv1.PostingBatch_KIND_INVOICE, CurrencyCode: "EUR"}})
		wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_NOTHING_TO_POST)
		// A posted line is not retryable.
		_, err = srv.RetryPostingLines(ctx, &orderv1.RetryPostingLinesRequest{Name: list.GetPostingBatches()[0].GetName(), RequestId: "r0",
			LineIds: []string{firstLine(list.GetPostingBatches()[0], orderv1.PostingLine_STATE_POSTED)}})
		if firstLine(list.GetPostingBatches()[0], orderv1.PostingLine_STATE_POSTED) != "" {
			wantReason(t, err, codes.FailedPrecondition, orderv1.ErrorReason_ERROR_REASON_POSTING_LINE_NOT_RETRYABLE)
		}
		j.set(func(j *fakeJournal) { delete(j.blocked, "C0007") })
		for _, name := range rejectedBatches {
			b, err := srv.RetryPostingLines(ctx, &orderv1.RetryPostingLinesRequest{Name: name, RequestId: "retry-" + name, Note: "C0007 unblocked"})
			if err != nil {
				t.Fatal(err)
			}
			if b.GetState() != orderv1.PostingBatch_STATE_POSTED || b.GetRejectedLineCount() != 0 {
				t.Errorf("%s after retry: %s, %d rejected", name, b.GetState(), b.GetRejectedLineCount())
			}
			// The same request again answers the batch as it is now.
			again, err := srv.RetryPostingLines(ctx, &orderv1.RetryPostingLinesRequest{Name: name, RequestId: "retry-" + name, Note: "C0007 unblocked"})
			if err != nil || again.GetEtag() != b.GetEtag() {
				t.Errorf("replayed retry of %s: %v, etag %s -> %s", name, err, b.GetEtag(), again.GetEtag())
			}
			_, err = srv.RetryPostingLines(ctx, &orderv1.RetryPostingLinesRequest{Name: name, RequestId: "retry-" + name, Note: "other"})
			wantReason(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
		}
		if n := j.postedOnce(t); n != 12 {
			t.Fatalf("ERP holds %d lines after the retry, want 12", n)
		}
		var audited int
		for _, m := range opseventstest.Read(t, e.db).All {
			if a, ok := m.(*opsv1.AuditRecordedEvent); ok && a.GetAction() == order.AuditPostingRetry {
				if a.GetAfter().GetFields()["note"].GetStringValue() != "C0007 unblocked" {
					t.Errorf("retry audit record without the operator's note: %v", a.GetAfter())
				}
				audited++
			}
		}
		if audited != len(rejectedBatches) {
			t.Errorf("%d retry audit records, want %d", audited, len(rejectedBatches))
		}
		list, err = srv.ListPostingBatches(ctx, &orderv1.ListPostingBatchesRequest{Filter: "state = POSTED"})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, b := range list.GetPostingBatches() {
			total += b.GetTotalAmount().GetAmountMinor()
			for _, l := range b.GetLines() {
				if l.GetErpDocumentNumber() == "" {
					t.Errorf("posted line %s/%s has no ERP document number", b.GetPostingBatchId(), l.GetLineId())
				}
			}
		}
		if total != value {
			t.Errorf("posted %d, shipped %d", total, value)
		}
	})
}

func firstLine(b *orderv1.PostingBatch, st orderv1.PostingLine_State) string {
	for _, l := range b.GetLines() {
		if l.GetState() == st {
			return l.GetLineId()
		}
	}
	return ""
}

// TestPosterWaitsForERPAndSurvivesLostAnswers: while the ERP is down the
// batch stays SUBMIT_FAILED with its lines pending; a submission whose
// answer is lost after the ERP posted is resubmitted and comes back
// DUPLICATE: every line is in the ERP once.
func TestPosterWaitsForERPAndSurvivesLostAnswers(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.shipOrders(t, "pd", 3, "C0001")
		j := newFakeJournal()
		j.down = true
		p := e.poster(t, j, order.PostingConfig{BatchSize: 100})
		srv := grpcapi.New(e.svc, e.worker, quiet).WithPoster(p)
		if err := p.Pass(ctx); err == nil {
			t.Fatal("pass with the ERP down reported no error")
		}
		list, err := srv.ListPostingBatches(ctx, &orderv1.ListPostingBatchesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.GetPostingBatches()) != 1 {
			t.Fatalf("%d batches, want 1", len(list.GetPostingBatches()))
		}
		b := list.GetPostingBatches()[0]
		if b.GetState() != orderv1.PostingBatch_STATE_SUBMIT_FAILED || b.GetPendingLineCount() != 6 || b.GetLastError() == "" {
			t.Fatalf("batch with the ERP down: %s, %d pending, error %q", b.GetState(), b.GetPendingLineCount(), b.GetLastError())
		}
		_, err = srv.SubmitPostingBatch(ctx, &orderv1.SubmitPostingBatchRequest{Name: b.GetName(), RequestId: "s1"})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("submit with the ERP down: %v, want UNAVAILABLE", err)
		}
		// Back, but the answer is lost after posting.
		j.set(func(j *fakeJournal) { j.down, j.loseNext = false, true })
		if err := p.Pass(ctx); err == nil {
			t.Fatal("pass with a lost answer reported no error")
		}
		if got, _ := srv.GetPostingBatch(ctx, &orderv1.GetPostingBatchRequest{Name: b.GetName()}); got.GetState() != orderv1.PostingBatch_STATE_SUBMIT_FAILED {
			t.Fatalf("after a lost answer: %s", got.GetState())
		}
		if err := p.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := srv.GetPostingBatch(ctx, &orderv1.GetPostingBatchRequest{Name: b.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetState() != orderv1.PostingBatch_STATE_POSTED || got.GetDuplicateLineCount() != 6 {
			t.Errorf("after the resubmission: %s, %d duplicate", got.GetState(), got.GetDuplicateLineCount())
		}
		if n := j.postedOnce(t); n != 6 {
			t.Errorf("ERP holds %d lines, want 6", n)
		}
		// Submitting a finished batch returns it unchanged.
		again, err := srv.SubmitPostingBatch(ctx, &orderv1.SubmitPostingBatchRequest{Name: b.GetName(), RequestId: "s2"})
		if err != nil || again.GetEtag() != got.GetEtag() {
			t.Errorf("resubmitting a posted batch: %v, etag %s -> %s", err, got.GetEtag(), again.GetEtag())
		}
		_, err = srv.GetPostingBatch(ctx, &orderv1.GetPostingBatchRequest{Name: "postingBatches/PB-NONE"})
		wantReason(t, err, codes.NotFound, orderv1.ErrorReason_ERROR_REASON_POSTING_BATCH_NOT_FOUND)
	})
}

// TestPosterOneSchedulerAcrossReplicas: two posters on one store; only the
// lease holder collects.
func TestPosterOneSchedulerAcrossReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.shipOrders(t, "pl", 1, "C0001")
	j1, j2 := newFakeJournal(), newFakeJournal()
	p1, p2 := e.poster(t, j1, order.PostingConfig{}), e.poster(t, j2, order.PostingConfig{})
	if err := p1.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.shipOrders(t, "pl2", 1, "C0001")
	if err := p2.Pass(t.Context()); err != nil {
		t.Fatal(err)
	}
	if j2.calls != 0 || j1.calls != 1 {
		t.Errorf("ERP calls: holder %d, other replica %d; want 1 and 0", j1.calls, j2.calls)
	}
}

// TestCreatePostingBatchIdempotent: the same request id returns the same
// batch; with another kind it is refused.
func TestCreatePostingBatchIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.shipOrders(t, "pi", 1, "C0001")
	srv := grpcapi.New(e.svc, e.worker, quiet).WithPoster(e.poster(t, newFakeJournal(), order.PostingConfig{}))
	req := &orderv1.CreatePostingBatchRequest{RequestId: "op-7",
		PostingBatch: &orderv1.PostingBatch{Kind: orderv1.PostingBatch_KIND_INVOICE, CurrencyCode: "EUR"}}
	b1, err := srv.CreatePostingBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if b1.GetState() != orderv1.PostingBatch_STATE_OPEN || len(b1.GetLines()) != 2 || b1.GetLines()[0].GetLineHash() == "" {
		t.Fatalf("created batch = %v", b1)
	}
	b2, err := srv.CreatePostingBatch(ctx, req)
	if err != nil || b2.GetPostingBatchId() != b1.GetPostingBatchId() {
		t.Fatalf("replayed create: %v %v", b2.GetPostingBatchId(), err)
	}
	req.PostingBatch.Kind = orderv1.PostingBatch_KIND_CREDIT_MEMO
	_, err = srv.CreatePostingBatch(ctx, req)
	wantReason(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
}

// TestPosterPassGoesOnPastABadBatch: a batch the ERP refuses (not an
// outage) stays SUBMIT_FAILED and the pass posts the other batches; once
// the ERP takes it, the next pass posts it.
// twiceJournal is fakeJournal answering, while on, a second (rejected)
// outcome for the first line of each batch: an erp.v1 protocol error.
type twiceJournal struct {
	*fakeJournal
	mu    sync.Mutex
	on    bool
	batch string
}

func (j *twiceJournal) PostJournalBatch(ctx context.Context, journalID string, b order.PostingBatch, lines []order.PostingLine) (order.JournalAnswer, error) {
	ans, err := j.fakeJournal.PostJournalBatch(ctx, journalID, b, lines)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil || !j.on || len(ans.Outcomes) == 0 {
		return ans, err
	}
	j.batch = b.ID
	second := ans.Outcomes[0]
	second.State, second.RejectionReason, second.ERPErrorCode, second.ERPDocumentNumber = order.LineRejected, "second answer", "X", ""
	ans.Outcomes = append(slices.Clone(ans.Outcomes), second)
	return ans, nil
}

// TestPosterRefusesTwoOutcomesForOneLine: an ERP answer with two outcomes
// for one line is a protocol error: the batch is SUBMIT_FAILED with a
// last_error naming the line, no line is posted or rejected, and no
// exception is raised; the next pass, with a well-formed answer, posts
// every line once.
func TestPosterRefusesTwoOutcomesForOneLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.shipOrders(t, "twice", 1, "C0001")
	j := &twiceJournal{fakeJournal: newFakeJournal(), on: true}
	p := e.poster(t, j, order.PostingConfig{BatchSize: 10})
	if err := p.Pass(ctx); err != nil {
		t.Fatalf("pass: %v", err)
	}
	j.mu.Lock()
	id := j.batch
	j.on = false
	j.mu.Unlock()
	if id == "" {
		t.Fatal("no batch was submitted")
	}
	b, err := p.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != order.BatchSubmitFailed || !strings.Contains(b.LastError, "two outcomes for line") {
		t.Fatalf("batch after a two-outcome answer: state %d, last error %q; want SUBMIT_FAILED naming the line", b.State, b.LastError)
	}
	for _, l := range b.Lines {
		if l.State != order.LinePending || l.ERPDocumentNumber != "" || l.Attempts != 0 {
			t.Errorf("line %s applied from a refused answer: %+v", l.ID(), l)
		}
	}
	if n := e.postingExceptions(t); n != 0 {
		t.Errorf("%d POSTING_LINE_REJECTED exceptions from a refused answer", n)
	}
	if err := p.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err = p.Get(ctx, id); err != nil || b.State != order.BatchPosted || b.LastError != "" {
		t.Fatalf("batch after the next pass: %+v, %v; want POSTED", b, err)
	}
	if n := j.postedOnce(t); n != len(b.Lines) {
		t.Errorf("ERP holds %d lines, want the batch's %d", n, len(b.Lines))
	}
}

func TestPosterPassGoesOnPastABadBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	e.shipOrders(t, "pb", 3, "C0001") // 2 lines each, one batch per order
	j := newFakeJournal()
	j.refuse = true
	p := e.poster(t, j, order.PostingConfig{BatchSize: 2})
	if err := p.Pass(ctx); err != nil {
		t.Fatalf("pass with one refused batch: %v", err)
	}
	if n := j.postedOnce(t); n != 4 {
		t.Fatalf("ERP holds %d lines, want the other batches' 4", n)
	}
	b, err := p.Get(ctx, j.refused)
	if err != nil {
		t.Fatal(err)
	}
	if b.State != order.BatchSubmitFailed || b.LastError == "" {
		t.Errorf("refused batch: %+v", b)
	}
	j.set(func(j *fakeJournal) { j.refuse = false })
	if err := p.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if n := j.postedOnce(t); n != 6 {
		t.Errorf("ERP holds %d lines after the next pass, want 6", n)
	}
}
