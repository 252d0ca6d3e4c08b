package erp

import (
	"context"
	"fmt"
)

// PostJournalBatch posts batch idempotently on its id and on every line
// hash; see Store.PostJournalBatch. Rules per line: the customer must
// exist, the order must have a sales order that was not rejected, the
// account must be a 4 to 10 digit GL account, and amount and tax must be
// non-negative in the sales order's currency. Lines of one document are
// posted all-or-nothing; a line whose hash was posted before is DUPLICATE.
// A batch is posted in one transaction, so a call that fails mid-batch
// leaves nothing behind and its retry posts the whole batch.
func (s *Service) PostJournalBatch(ctx context.Context, batch JournalBatch) (JournalBatch, bool, error) {
	post := func(ctx context.Context, lk JournalLookup) ([]JournalLineResult, error) {
		return postLines(ctx, batch.Lines, lk, s.journalRejector)
	}
	return s.store.PostJournalBatch(ctx, batch, s.clock(), post)
}

func postLines(ctx context.Context, lines []JournalLine, lk JournalLookup, faults JournalRejector) ([]JournalLineResult, error) {
	results := make([]JournalLineResult, len(lines))
	postedNow := map[string]string{} // line hash → document number, within this batch
	var docs []string
	byDoc := map[string][]int{}
	for i, l := range lines {
		if _, ok := byDoc[l.DocumentID]; !ok {
			docs = append(docs, l.DocumentID)
		}
		byDoc[l.DocumentID] = append(byDoc[l.DocumentID], i)
	}
	for _, doc := range docs {
		var toPost []int
		rejected := false
		for _, i := range byDoc[doc] {
			l := lines[i]
			results[i].LineID = l.LineID
			if num, ok, err := lk.PostedLine(ctx, l.LineHash); err != nil {
				return nil, err
			} else if ok {
				results[i].Outcome, results[i].ERPDocumentNumber = LineDuplicate, num
				continue
			}
			if num, ok := postedNow[l.LineHash]; ok {
				results[i].Outcome, results[i].ERPDocumentNumber = LineDuplicate, num
				continue
			}
			rej, msg, err := checkLine(ctx, l, lk)
			if err != nil {
				return nil, err
			}
			if faults != nil && rej == JournalRejectNone {
				if frej, fmsg, ok := faults.RejectJournalLine(l); ok {
					rej, msg = frej, fmsg
				}
			}
			if rej != JournalRejectNone {
				results[i].Outcome, results[i].Rejection, results[i].RejectionMessage = LineRejected, rej, msg
				rejected = true
				continue
			}
			toPost = append(toPost, i)
		}
		if rejected {
			for _, i := range toPost {
				results[i].Outcome = LineRejected
				results[i].Rejection = JournalRejectDocumentRejected
				results[i].RejectionMessage = fmt.Sprintf("another line of document %s was rejected", doc)
			}
			continue
		}
		if len(toPost) == 0 {
			continue
		}
		num, err := lk.NextDocumentNumber(ctx)
		if err != nil {
			return nil, err
		}
		for _, i := range toPost {
			if prev, ok := postedNow[lines[i].LineHash]; ok {
				results[i].Outcome, results[i].ERPDocumentNumber = LineDuplicate, prev
				continue
			}
			results[i].Outcome, results[i].ERPDocumentNumber = LinePosted, num
			postedNow[lines[i].LineHash] = num
		}
	}
	return results, nil
}

func checkLine(ctx context.Context, l JournalLine, lk JournalLookup) (JournalRejection, string, error) {
	ok, err := lk.CustomerExists(ctx, l.CustomerID)
	if err != nil {
		return 0, "", err
	}
	if !ok {
		return JournalRejectUnknownCustomer, fmt.Sprintf("customer %s does not exist", l.CustomerID), nil
	}
	cur, ok, err := lk.AcceptedOrderCurrency(ctx, l.OrderID)
	if err != nil {
		return 0, "", err
	}
	if !ok {
		return JournalRejectUnknownOrder, fmt.Sprintf("order %s has no sales order", l.OrderID), nil
	}
	if !validAccount(l.Account) {
		return JournalRejectUnknownAccount, fmt.Sprintf("GL account %q does not exist", l.Account), nil
	}
	switch {
	case l.AmountMinor < 0:
		return JournalRejectInvalidAmount, "amount must not be negative", nil
	case l.TaxMinor < 0:
		return JournalRejectInvalidAmount, "tax must not be negative", nil
	case l.Currency != cur || l.TaxCurrency != cur:
		return JournalRejectInvalidAmount, fmt.Sprintf("currency must be the sales order's (%s)", cur), nil
	}
	return JournalRejectNone, "", nil
}

func validAccount(a string) bool {
	if len(a) < 4 || len(a) > 10 {
		return false
	}
	for _, r := range a {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
