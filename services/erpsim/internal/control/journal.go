package control

import (
	"context"
	"log/slog"
	"net/http"
	"slices"

	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/faults"
)

// applyPostingPatch applies the posting fault fields of p to st; it
// answers 400 and returns false for a negative postRejectNext.
func applyPostingPatch(w http.ResponseWriter, p FaultsPatch, st *faults.State) bool {
	if p.PostRejectCustomers != nil {
		st.PostRejectCustomers = slices.Clone(*p.PostRejectCustomers)
	}
	if p.PostRejectAccounts != nil {
		st.PostRejectAccounts = slices.Clone(*p.PostRejectAccounts)
	}
	if p.PostRejectNext != nil {
		if *p.PostRejectNext < 0 {
			badRequest(w, "postRejectNext must be >= 0")
			return false
		}
		st.PostRejectNext = *p.PostRejectNext
	}
	return true
}

// JournalLine is one posted line of GET /control/journal.
type JournalLine struct {
	BatchID           string `json:"batchId"`
	Kind              string `json:"kind"`
	LineID            string `json:"lineId"`
	LineHash          string `json:"lineHash"`
	DocumentID        string `json:"documentId"`
	OrderID           string `json:"orderId"`
	CustomerID        string `json:"customerId"`
	Account           string `json:"account"`
	AmountMinor       int64  `json:"amountMinor"`
	TaxMinor          int64  `json:"taxMinor"`
	Currency          string `json:"currency"`
	ERPDocumentNumber string `json:"erpDocumentNumber"`
}

// Journal is the body of GET /control/journal: every line the ERP posted
// (each line hash at most once; a DUPLICATE answer posts nothing), with
// count and net and tax totals per kind ("INVOICE", "CREDIT_MEMO") and
// currency ("INVOICE/EUR").
type Journal struct {
	Count  int               `json:"count"`
	Totals map[string]Totals `json:"totals"`
	Lines  []JournalLine     `json:"lines"`
}

// Totals sums posted lines.
type Totals struct {
	Lines       int   `json:"lines"`
	AmountMinor int64 `json:"amountMinor"`
	TaxMinor    int64 `json:"taxMinor"`
}

// journalLister is what GET /control/journal needs from the ERP.
type journalLister interface {
	PostedJournalLines(ctx context.Context) ([]erp.PostedJournalLine, error)
}

var journalKindNames = map[erp.JournalKind]string{erp.JournalInvoice: "INVOICE", erp.JournalCreditMemo: "CREDIT_MEMO"}

func (h *Handler) getJournal(w http.ResponseWriter, r *http.Request) {
	jl, ok := h.erp.(journalLister)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, Error{Error: "this ERP cannot list its journal"})
		return
	}
	lines, err := jl.PostedJournalLines(r.Context())
	if err != nil {
		h.logger.ErrorContext(r.Context(), "erpsim: list journal", slog.Any("error", err))
		writeJSON(w, http.StatusInternalServerError, Error{Error: "internal error"})
		return
	}
	out := Journal{Count: len(lines), Totals: map[string]Totals{}, Lines: make([]JournalLine, 0, len(lines))}
	for _, pl := range lines {
		l, kind := pl.Line, journalKindNames[pl.Kind]
		out.Lines = append(out.Lines, JournalLine{
			BatchID: pl.BatchID, Kind: kind, LineID: l.LineID, LineHash: l.LineHash, DocumentID: l.DocumentID,
			OrderID: l.OrderID, CustomerID: l.CustomerID, Account: l.Account, AmountMinor: l.AmountMinor, TaxMinor: l.TaxMinor,
			Currency: l.Currency, ERPDocumentNumber: pl.ERPDocumentNumber,
		})
		key := kind + "/" + l.Currency
		t := out.Totals[key]
		t.Lines++
		t.AmountMinor += l.AmountMinor
		t.TaxMinor += l.TaxMinor
		out.Totals[key] = t
	}
	writeJSON(w, http.StatusOK, out)
}
