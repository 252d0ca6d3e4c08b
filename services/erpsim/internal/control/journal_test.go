package control_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/transload/transload/services/erpsim/internal/control"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// journalERP is a fakeERP with a journal.
type journalERP struct {
	fakeERP
	lines []erp.PostedJournalLine
}

func (j *journalERP) PostedJournalLines(context.Context) ([]erp.PostedJournalLine, error) {
	return j.lines, nil
}

func TestJournal(t *testing.T) {
	t.Parallel()
	e := &journalERP{lines: []erp.PostedJournalLine{
		{BatchID: "PB-1", Kind: erp.JournalInvoice, ERPDocumentNumber: "FI-1", Line: erp.JournalLine{LineID: "1", DocumentID: "O-1:S1",
			OrderID: "O-1", CustomerID: "C0001", LineHash: "h1", AmountMinor: 1000, TaxMinor: 190, Currency: "EUR", Account: "4000"}},
		{BatchID: "PB-1", Kind: erp.JournalInvoice, ERPDocumentNumber: "FI-2", Line: erp.JournalLine{LineID: "2", DocumentID: "O-2:S1",
			OrderID: "O-2", CustomerID: "C0002", LineHash: "h2", AmountMinor: 500, Currency: "EUR", Account: "4000"}},
		{BatchID: "PB-2", Kind: erp.JournalCreditMemo, ERPDocumentNumber: "FI-3", Line: erp.JournalLine{LineID: "1", DocumentID: "RA-1",
			OrderID: "O-1", CustomerID: "C0001", LineHash: "h3", AmountMinor: 300, Currency: "EUR", Account: "4100"}},
	}}
	h, _ := newHandler(&e.fakeERP)
	if code, _ := do(t, h, http.MethodGet, "/control/journal", ""); code != http.StatusNotImplemented {
		t.Errorf("journal of an ERP without one: %d", code)
	}
	h, _ = newHandler2(e)
	code, body := do(t, h, http.MethodGet, "/control/journal", "")
	if code != http.StatusOK {
		t.Fatalf("GET /control/journal = %d %v", code, body)
	}
	want := map[string]any{
		"INVOICE/EUR":     map[string]any{"lines": 2.0, "amountMinor": 1500.0, "taxMinor": 190.0},
		"CREDIT_MEMO/EUR": map[string]any{"lines": 1.0, "amountMinor": 300.0, "taxMinor": 0.0},
	}
	if diff := cmp.Diff(want, body["totals"]); diff != "" || body["count"] != 3.0 {
		t.Errorf("count %v, totals (-want +got):\n%s", body["count"], diff)
	}
	first := body["lines"].([]any)[0].(map[string]any)
	if first["lineHash"] != "h1" || first["erpDocumentNumber"] != "FI-1" || first["kind"] != "INVOICE" || first["batchId"] != "PB-1" {
		t.Errorf("first line = %v", first)
	}
}

func TestPostingFaultsPatch(t *testing.T) {
	t.Parallel()
	h, f := newHandler(&fakeERP{})
	code, body := do(t, h, http.MethodPost, "/control/faults", `{"postRejectCustomers":["C0007"],"postRejectAccounts":["4000"],"postRejectNext":3}`)
	if code != http.StatusOK {
		t.Fatalf("POST = %d %v", code, body)
	}
	st := f.Get()
	if !cmp.Equal(st.PostRejectCustomers, []string{"C0007"}) || !cmp.Equal(st.PostRejectAccounts, []string{"4000"}) || st.PostRejectNext != 3 {
		t.Errorf("state = %+v", st)
	}
	if body["postRejectNext"] != 3.0 || !cmp.Equal(body["postRejectCustomers"], []any{"C0007"}) {
		t.Errorf("answer = %v", body)
	}
	// Other fields keep their value; [] clears a list.
	if code, _ := do(t, h, http.MethodPost, "/control/faults", `{"postRejectCustomers":[]}`); code != http.StatusOK {
		t.Fatal(code)
	}
	if st := f.Get(); len(st.PostRejectCustomers) != 0 || st.PostRejectNext != 3 {
		t.Errorf("after clearing customers: %+v", st)
	}
	if code, _ := do(t, h, http.MethodPost, "/control/faults", `{"postRejectNext":-1}`); code != http.StatusBadRequest {
		t.Errorf("negative postRejectNext: %d", code)
	}
	if rej, _, ok := f.RejectJournalLine(erp.JournalLine{CustomerID: "C1", Account: "4000"}); !ok || rej != erp.JournalRejectUnknownAccount {
		t.Errorf("line on a blocked account: %v %v", rej, ok)
	}
	if code, _ := do(t, h, http.MethodDelete, "/control/faults", ""); code != http.StatusOK {
		t.Fatal(code)
	}
	if _, _, ok := f.RejectJournalLine(erp.JournalLine{CustomerID: "C1", Account: "4000"}); ok {
		t.Error("line rejected after the faults were cleared")
	}
}

func newHandler2(e *journalERP) (*control.Handler, *faults.Faults) {
	f := faults.New()
	return control.New(f, e, slog.New(slog.NewTextHandler(io.Discard, nil))), f
}
