package order

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestApplyJournalAnswer(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	batch := func() *PostingBatch {
		return &PostingBatch{ID: "PB-1", State: BatchSubmitting, Attempts: 1, Lines: []PostingLine{
			{No: 1, State: LinePending}, {No: 2, State: LinePending}, {No: 3, State: LinePosted, ERPDocumentNumber: "FI-0"},
		}}
	}
	posted := func(id, doc string) JournalOutcome {
		return JournalOutcome{LineID: id, State: LinePosted, ERPDocumentNumber: doc}
	}
	rejected := func(id string) JournalOutcome {
		return JournalOutcome{LineID: id, State: LineRejected, RejectionReason: "blocked", ERPErrorCode: "UNKNOWN_CUSTOMER"}
	}
	for _, tc := range []struct {
		name     string
		outcomes []JournalOutcome
		want     PostingBatchState
		rejected int
	}{
		{"all posted or duplicate", []JournalOutcome{posted("1", "FI-1"), {LineID: "2", State: LineDuplicate, ERPDocumentNumber: "FI-0"}}, BatchPosted, 0},
		{"some rejected", []JournalOutcome{posted("1", "FI-1"), rejected("2")}, BatchPartiallyRejected, 1},
	} {
		b := batch()
		eff, err := applyJournalAnswer(b, JournalAnswer{Reference: "journalBatches/PB-1", Outcomes: tc.outcomes}, BatchOpen, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if b.State != tc.want || len(eff.Rejected) != tc.rejected || !eff.Posted || eff.Previous != BatchOpen {
			t.Errorf("%s: state %d, effects %+v", tc.name, b.State, eff)
		}
		if b.Lines[0].ERPDocumentNumber != "FI-1" || !b.Lines[0].PostedAt.Equal(now) || b.Lines[0].Attempts != 1 {
			t.Errorf("%s: line 1 = %+v", tc.name, b.Lines[0])
		}
		if b.Lines[2].ERPDocumentNumber != "FI-0" || b.Lines[2].Attempts != 0 {
			t.Errorf("%s: a line posted before changed: %+v", tc.name, b.Lines[2])
		}
	}
	// Every line rejected: REJECTED.
	b := &PostingBatch{ID: "PB-2", State: BatchSubmitting, Lines: []PostingLine{{No: 1, State: LinePending}}}
	if _, err := applyJournalAnswer(b, JournalAnswer{Outcomes: []JournalOutcome{rejected("1")}}, BatchSubmitFailed, now); err != nil || b.State != BatchRejected ||
		b.Lines[0].RejectionReason != "blocked" || b.Lines[0].ERPErrorCode != "UNKNOWN_CUSTOMER" {
		t.Errorf("all rejected: %+v, %v", b, err)
	}
	// An answer without a pending line's outcome is refused: nothing is
	// guessed.
	b = batch()
	if _, err := applyJournalAnswer(b, JournalAnswer{Outcomes: []JournalOutcome{posted("1", "FI-1")}}, BatchOpen, now); !errors.Is(err, ErrJournalProtocol) {
		t.Errorf("an answer missing line 2: %v, want ErrJournalProtocol", err)
	}
	if b.State != BatchSubmitting || b.Lines[0].State != LinePending || b.Lines[0].Attempts != 0 {
		t.Errorf("a refused answer changed the batch: %+v", b)
	}
	// Two outcomes for one line are refused too, whatever their order:
	// the last one does not silently win, and nothing is applied.
	for _, outcomes := range [][]JournalOutcome{
		{posted("1", "FI-1"), rejected("1"), posted("2", "FI-2")},
		{rejected("1"), posted("2", "FI-2"), posted("1", "FI-1")},
		{posted("1", "FI-1"), posted("2", "FI-2"), posted("2", "FI-2")},
		{posted("1", "FI-1"), posted("2", "FI-2"), posted("3", "FI-3"), posted("3", "FI-3")},
	} {
		b = batch()
		want := batch()
		_, err := applyJournalAnswer(b, JournalAnswer{Reference: "journalBatches/PB-1", Outcomes: outcomes}, BatchOpen, now)
		if !errors.Is(err, ErrJournalProtocol) || !strings.Contains(err.Error(), "two outcomes for line") {
			t.Errorf("outcomes %v: error %v, want ErrJournalProtocol (two outcomes)", outcomes, err)
		}
		if !reflect.DeepEqual(b, want) {
			t.Errorf("outcomes %v: a refused answer changed the batch: %+v", outcomes, b)
		}
	}
}

func TestJournalIDPerSubmission(t *testing.T) {
	t.Parallel()
	b := PostingBatch{ID: "PB-1", Attempts: 1}
	if b.JournalID() != "PB-1" {
		t.Errorf("first submission: %s", b.JournalID())
	}
	b.Attempts = 3
	if b.JournalID() != "PB-1-a3" {
		t.Errorf("third submission: %s", b.JournalID())
	}
	// order.v1 PostingLine: SHA-256 of the fields joined by "\n".
	sum := sha256.Sum256([]byte("KIND_INVOICE\nO-1:S1\nO-1\n1\nSKU-1\n2\n2000\n0\nEUR\n4000"))
	if h := LineHash(DocumentInvoice, "O-1:S1", "O-1", "1", "SKU-1", 2, 2000, 0, "EUR", "4000"); h != hex.EncodeToString(sum[:]) {
		t.Errorf("line hash %s, want the contract's %x", h, sum)
	}
}
