package grpcapi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
)

func journalLine(id, doc, order, customer, account string, amount int64) *erpv1.JournalLine {
	return &erpv1.JournalLine{
		LineId: id, DocumentId: doc, OrderId: order, CustomerId: customer,
		LineHash: lineHash(doc + "/" + id + "/" + order), Amount: eur(amount), Tax: eur(amount * 19 / 100),
		Account: account, PostingDate: postingDate(),
	}
}

func TestPostJournalBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	submit(t, e, "ord-fi", salesOrder("C0001", "web", line{"SKU-00001", 1, 1000}))

	lines := []*erpv1.JournalLine{
		journalLine("1", "INV-1", "ord-fi", "C0001", "8400", 600),
		journalLine("2", "INV-1", "ord-fi", "C0001", "8400", 400),
		journalLine("3", "INV-2", "ord-fi", "C0001", "GL-X", 100),   // unknown account
		journalLine("4", "INV-3", "ord-fi", "C0001", "8400", 100),   // fine, but its document...
		journalLine("5", "INV-3", "ord-none", "C0001", "8400", 100), // ...has a line without a sales order
		journalLine("6", "INV-4", "ord-fi", "C0999", "8400", 100),   // unknown customer
	}
	req := &erpv1.PostJournalBatchRequest{JournalBatchId: "batch-1", JournalBatch: &erpv1.JournalBatch{Kind: erpv1.JournalBatch_KIND_INVOICE, Lines: lines}}
	res, err := e.client.PostJournalBatch(callCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetDuplicate() || res.GetPostedCount() != 2 || res.GetRejectedCount() != 4 || res.GetDuplicateCount() != 0 {
		t.Errorf("counts: %v", res)
	}
	want := []struct {
		outcome erpv1.JournalLineResult_Outcome
		reason  erpv1.JournalLineRejectionReason
	}{
		{erpv1.JournalLineResult_OUTCOME_POSTED, 0},
		{erpv1.JournalLineResult_OUTCOME_POSTED, 0},
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_UNKNOWN_ACCOUNT},
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_DOCUMENT_REJECTED},
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_UNKNOWN_ORDER},
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_UNKNOWN_CUSTOMER},
	}
	results := res.GetJournalBatch().GetResults()
	if len(results) != len(want) {
		t.Fatalf("%d results", len(results))
	}
	for i, w := range want {
		r := results[i]
		if r.GetLineId() != lines[i].GetLineId() || r.GetOutcome() != w.outcome || r.GetRejectionReason() != w.reason {
			t.Errorf("line %d result = %v, want %v %v", i+1, r, w.outcome, w.reason)
		}
	}
	if p, r := e.counter(t, "erpsim_journal_lines_total", "posted"), e.counter(t, "erpsim_journal_lines_total", "rejected"); p != 2 || r != 4 {
		t.Errorf("journal metrics: posted %v, rejected %v; want 2, 4", p, r)
	}
	doc := results[0].GetErpDocumentNumber()
	if doc == "" || results[1].GetErpDocumentNumber() != doc {
		t.Errorf("lines of INV-1 posted to %q and %q, want one document", doc, results[1].GetErpDocumentNumber())
	}

	again, err := e.client.PostJournalBatch(callCtx(t), req)
	if err != nil || !again.GetDuplicate() {
		t.Fatalf("repost = %v, %v", again, err)
	}
	if diff := cmp.Diff(res.GetJournalBatch(), again.GetJournalBatch(), protocmp.Transform()); diff != "" {
		t.Errorf("repost results (-first +repost):\n%s", diff)
	}
	got, err := e.client.GetJournalBatch(callCtx(t), &erpv1.GetJournalBatchRequest{Name: "journalBatches/batch-1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(res.GetJournalBatch(), got, protocmp.Transform()); diff != "" {
		t.Errorf("GetJournalBatch (-post +get):\n%s", diff)
	}

	// A new batch repeating a posted line is answered DUPLICATE; a line
	// rejected before may be posted once fixed.
	fixed := journalLine("3", "INV-2", "ord-fi", "C0001", "8400", 100)
	fixed.LineHash = lines[2].GetLineHash()
	res2, err := e.client.PostJournalBatch(callCtx(t), &erpv1.PostJournalBatchRequest{JournalBatchId: "batch-2",
		JournalBatch: &erpv1.JournalBatch{Kind: erpv1.JournalBatch_KIND_INVOICE, Lines: []*erpv1.JournalLine{lines[0], fixed}}})
	if err != nil {
		t.Fatal(err)
	}
	r := res2.GetJournalBatch().GetResults()
	if r[0].GetOutcome() != erpv1.JournalLineResult_OUTCOME_DUPLICATE || r[0].GetErpDocumentNumber() != doc ||
		r[1].GetOutcome() != erpv1.JournalLineResult_OUTCOME_POSTED || res2.GetDuplicateCount() != 1 || res2.GetPostedCount() != 1 {
		t.Errorf("batch-2 = %v", res2)
	}

	req.JournalBatch.Lines = lines[:1]
	_, err = e.client.PostJournalBatch(callCtx(t), req)
	wantStatus(t, err, codes.AlreadyExists, commonv1.ErrorReason_ERROR_REASON_IDEMPOTENCY_KEY_REUSED)
	_, err = e.client.GetJournalBatch(callCtx(t), &erpv1.GetJournalBatchRequest{Name: "journalBatches/nope"})
	wantStatus(t, err, codes.NotFound, erpv1.ErrorReason_ERROR_REASON_JOURNAL_BATCH_NOT_FOUND)
	_, err = e.client.PostJournalBatch(callCtx(t), &erpv1.PostJournalBatchRequest{JournalBatchId: "batch-3",
		JournalBatch: &erpv1.JournalBatch{Kind: erpv1.JournalBatch_KIND_INVOICE, Lines: []*erpv1.JournalLine{lines[0], lines[0]}}})
	wantStatus(t, err, codes.InvalidArgument, commonv1.ErrorReason_ERROR_REASON_VALIDATION_FAILED)
}
