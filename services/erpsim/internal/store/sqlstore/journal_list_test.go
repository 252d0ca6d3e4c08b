package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/platform/sqldb/sqldbtest"
	"github.com/transload/transload/services/erpsim/internal/erp"
	"github.com/transload/transload/services/erpsim/internal/store/sqlstore"
)

// TestPostedJournalLines: the journal lists the POSTED lines of every
// batch once, in batch order, and leaves rejected and duplicate ones out.
func TestPostedJournalLines(t *testing.T) {
	sqldbtest.ForEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		t.Parallel()
		ctx := t.Context()
		if err := sqlstore.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := sqlstore.New(db)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		post := func(id string, kind erp.JournalKind, at time.Time, lines []erp.JournalLine, outcomes ...erp.JournalOutcome) {
			t.Helper()
			_, _, err := s.PostJournalBatch(ctx, erp.JournalBatch{BatchID: id, Kind: kind, Lines: lines, Payload: []byte(id), Fingerprint: id}, at,
				func(context.Context, erp.JournalLookup) ([]erp.JournalLineResult, error) {
					rs := make([]erp.JournalLineResult, len(lines))
					for i, l := range lines {
						rs[i] = erp.JournalLineResult{LineID: l.LineID, Outcome: outcomes[i]}
						if outcomes[i] == erp.LinePosted {
							rs[i].ERPDocumentNumber = "FI-" + id + "-" + l.LineID
						}
					}
					return rs, nil
				})
			if err != nil {
				t.Fatal(err)
			}
		}
		l := func(id, hash string, amount int64) erp.JournalLine {
			return erp.JournalLine{LineID: id, DocumentID: "D-" + id, OrderID: "O-1", CustomerID: "C1", LineHash: hash, AmountMinor: amount, Currency: "EUR", Account: "4000"}
		}
		post("b1", erp.JournalInvoice, at, []erp.JournalLine{l("1", "h1", 100), l("2", "h2", 200)}, erp.LinePosted, erp.LineRejected)
		post("b2", erp.JournalCreditMemo, at.Add(time.Second), []erp.JournalLine{l("1", "h1", 100), l("2", "h3", 50)}, erp.LineDuplicate, erp.LinePosted)
		got, err := s.PostedJournalLines(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].BatchID != "b1" || got[0].Line.LineHash != "h1" || got[0].ERPDocumentNumber != "FI-b1-1" ||
			got[1].BatchID != "b2" || got[1].Kind != erp.JournalCreditMemo || got[1].Line.AmountMinor != 50 {
			t.Errorf("posted lines = %+v", got)
		}
	})
}
