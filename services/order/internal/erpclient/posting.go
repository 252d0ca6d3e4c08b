package erpclient

import (
	"context"
	"fmt"

	"google.golang.org/genproto/googleapis/type/date"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	erpv1 "github.com/transload/transload/gen/transload/erp/v1"
	"github.com/transload/transload/platform/apierr"
	"github.com/transload/transload/services/order/internal/order"
	"github.com/transload/transload/services/order/internal/orderpb"
)

var _ order.Journal = (*Client)(nil)

// journalKinds maps document kinds to erp.v1 journal batch kinds.
var journalKinds = map[order.DocumentKind]erpv1.JournalBatch_Kind{
	order.DocumentInvoice:    erpv1.JournalBatch_KIND_INVOICE,
	order.DocumentCreditMemo: erpv1.JournalBatch_KIND_CREDIT_MEMO,
}

// JournalBatch builds the erp.v1 journal batch of lines of b: each line
// keeps its batch line id and hash (the ERP's idempotency key across
// batches) and is dated on the batch's creation day (UTC).
func JournalBatch(journalID string, b order.PostingBatch, lines []order.PostingLine) *erpv1.JournalBatch {
	day := b.CreatedAt.UTC()
	jb := &erpv1.JournalBatch{Name: "journalBatches/" + journalID, Kind: journalKinds[b.Kind]}
	for _, l := range lines {
		jb.Lines = append(jb.Lines, &erpv1.JournalLine{
			LineId: l.ID(), DocumentId: l.DocumentID, OrderId: l.OrderID, CustomerId: l.CustomerID, LineHash: l.Hash,
			Amount: orderpb.Money(l.AmountMinor, b.Currency), Tax: orderpb.Money(l.TaxMinor, b.Currency), Account: l.Account,
			PostingDate: &date.Date{Year: int32(day.Year()), Month: int32(day.Month()), Day: int32(day.Day())},
			Sku:         l.SKU, Quantity: &commonv1.Quantity{Value: l.Quantity},
		})
	}
	return jb
}

var journalOutcomes = map[erpv1.JournalLineResult_Outcome]order.PostingLineState{
	erpv1.JournalLineResult_OUTCOME_POSTED:    order.LinePosted,
	erpv1.JournalLineResult_OUTCOME_REJECTED:  order.LineRejected,
	erpv1.JournalLineResult_OUTCOME_DUPLICATE: order.LineDuplicate,
}

// PostJournalBatch implements order.Journal. The caller's context carries
// the deadline (the poster's submit timeout); the connection's breaker
// answers at once while it is open.
func (c *Client) PostJournalBatch(ctx context.Context, journalID string, b order.PostingBatch, lines []order.PostingLine) (order.JournalAnswer, error) {
	res, err := c.c.PostJournalBatch(ctx, &erpv1.PostJournalBatchRequest{JournalBatchId: journalID, JournalBatch: JournalBatch(journalID, b, lines)})
	if err != nil {
		if d := orderpb.DependencyError(Target, err); d != nil {
			return order.JournalAnswer{}, d
		}
		return order.JournalAnswer{}, fmt.Errorf("erp PostJournalBatch %s: %s (%w)", journalID, apierr.ReasonOf(err), err)
	}
	ans := order.JournalAnswer{Reference: res.GetJournalBatch().GetName()}
	for _, r := range res.GetJournalBatch().GetResults() {
		o := order.JournalOutcome{LineID: r.GetLineId(), State: journalOutcomes[r.GetOutcome()], ERPDocumentNumber: r.GetErpDocumentNumber()}
		if o.State == order.LineRejected {
			o.RejectionReason = r.GetRejectionMessage()
			if o.RejectionReason == "" {
				o.RejectionReason = r.GetRejectionReason().String()
			}
			o.ERPErrorCode = r.GetRejectionReason().String()
		}
		ans.Outcomes = append(ans.Outcomes, o)
	}
	return ans, nil
}
