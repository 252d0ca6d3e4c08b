package grpcapi_test

import (
	"testing"

	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// TestPostingFaults: the posting faults reject lines of a customer, of an
// account and the next N postable lines; a line already posted stays
// DUPLICATE whatever the faults; the journal lists each posted line once.
func TestPostingFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	submit(t, e, "ord-f1", salesOrder("C0001", "web", line{"SKU-00001", 1, 1000}))
	submit(t, e, "ord-f2", salesOrder("C0002", "web", line{"SKU-00001", 1, 1000}))
	post := func(batch string, lines ...*erpv1.JournalLine) []*erpv1.JournalLineResult {
		t.Helper()
		res, err := e.client.PostJournalBatch(callCtx(t), &erpv1.PostJournalBatchRequest{JournalBatchId: batch,
			JournalBatch: &erpv1.JournalBatch{Kind: erpv1.JournalBatch_KIND_INVOICE, Lines: lines}})
		if err != nil {
			t.Fatal(err)
		}
		return res.GetJournalBatch().GetResults()
	}
	if r := post("b0", journalLine("1", "INV-0", "ord-f1", "C0001", "8400", 500)); r[0].GetOutcome() != erpv1.JournalLineResult_OUTCOME_POSTED {
		t.Fatalf("before faults: %v", r)
	}
	dup := journalLine("1", "INV-0", "ord-f1", "C0001", "8400", 500)
	dup.LineId = "5" // same hash, another line id in this batch
	st := e.faults.Get()
	st.PostRejectCustomers, st.PostRejectAccounts, st.PostRejectNext = []string{"C0001"}, []string{"8401"}, 1
	e.faults.Set(st)
	r := post("b1",
		journalLine("1", "INV-1", "ord-f1", "C0001", "8400", 100), // blocked customer
		journalLine("2", "INV-2", "ord-f2", "C0002", "8401", 100), // blocked account
		journalLine("3", "INV-3", "ord-f2", "C0002", "8400", 100), // the next line: rejected
		journalLine("4", "INV-4", "ord-f2", "C0002", "8400", 100), // count used up: posted
		dup, // already posted: duplicate, not rejected
	)
	want := []struct {
		outcome erpv1.JournalLineResult_Outcome
		reason  erpv1.JournalLineRejectionReason
	}{
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_UNKNOWN_CUSTOMER},
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_UNKNOWN_ACCOUNT},
		{erpv1.JournalLineResult_OUTCOME_REJECTED, erpv1.JournalLineRejectionReason_JOURNAL_LINE_REJECTION_REASON_OTHER},
		{erpv1.JournalLineResult_OUTCOME_POSTED, 0},
		{erpv1.JournalLineResult_OUTCOME_DUPLICATE, 0},
	}
	for i, w := range want {
		if r[i].GetOutcome() != w.outcome || r[i].GetRejectionReason() != w.reason {
			t.Errorf("line %d = %v, want %v %v", i+1, r[i], w.outcome, w.reason)
		}
	}
	if got := e.faults.Get().PostRejectNext; got != 0 {
		t.Errorf("postRejectNext after use = %d", got)
	}
	// Cleared: the rejected lines post in a new batch.
	e.faults.Set(faults.State{})
	r = post("b2", journalLine("1", "INV-1", "ord-f1", "C0001", "8400", 100), journalLine("3", "INV-3", "ord-f2", "C0002", "8400", 100))
	for i, res := range r {
		if res.GetOutcome() != erpv1.JournalLineResult_OUTCOME_POSTED {
			t.Errorf("after clearing, line %d = %v", i+1, res)
		}
	}
	lines, err := e.svc.PostedJournalLines(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var total int64
	for _, l := range lines {
		if seen[l.Line.LineHash] {
			t.Errorf("line %s listed twice", l.Line.LineHash)
		}
		seen[l.Line.LineHash] = true
		total += l.Line.AmountMinor
	}
	if len(lines) != 4 || total != 800 {
		t.Errorf("journal: %d lines worth %d, want 4 worth 800", len(lines), total)
	}
}
