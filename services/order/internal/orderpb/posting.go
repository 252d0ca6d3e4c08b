package orderpb

import (
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	opsv1 "github.com/transload/transload/gen/transload/ops/v1"
	orderv1 "github.com/transload/transload/gen/transload/order/v1"
	"github.com/transload/transload/platform/opsevents"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/services/order/internal/order"
)

// Subjects of the posting events.
const (
	SubjectPostingBatchPosted  = "transload.order.posting_batch_posted"
	SubjectPostingLineRejected = "transload.order.posting_line_rejected"
)

// PostingAggregateType is the outbox aggregate type of posting batch
// events: a batch's events are sequenced per batch.
const PostingAggregateType = "posting_batch"

// PostingBatchName is the resource name of a batch.
func PostingBatchName(id string) string { return "postingBatches/" + id }

// PostingBatchID returns the id in a batch resource name, "" when name is
// not one.
func PostingBatchID(name string) string {
	id, ok := strings.CutPrefix(name, "postingBatches/")
	if !ok {
		return ""
	}
	return id
}

// PostingKind converts a document kind to the order.v1 batch kind.
func PostingKind(k order.DocumentKind) orderv1.PostingBatch_Kind {
	switch k {
	case order.DocumentInvoice:
		return orderv1.PostingBatch_KIND_INVOICE
	case order.DocumentCreditMemo:
		return orderv1.PostingBatch_KIND_CREDIT_MEMO
	}
	return orderv1.PostingBatch_KIND_UNSPECIFIED
}

// PostingKindFromProto converts an order.v1 batch kind ("" when unknown).
func PostingKindFromProto(k orderv1.PostingBatch_Kind) order.DocumentKind {
	switch k {
	case orderv1.PostingBatch_KIND_INVOICE:
		return order.DocumentInvoice
	case orderv1.PostingBatch_KIND_CREDIT_MEMO:
		return order.DocumentCreditMemo
	case orderv1.PostingBatch_KIND_UNSPECIFIED:
	}
	return ""
}

// PostingLine converts a batch line.
func PostingLine(l order.PostingLine, currency string) *orderv1.PostingLine {
	return &orderv1.PostingLine{
		LineId: l.ID(), DocumentId: l.DocumentID, OrderId: l.OrderID, SourceLineId: l.SourceLineID, Sku: l.SKU,
		Quantity: l.Quantity, LineHash: l.Hash, Amount: Money(l.AmountMinor, currency), Tax: Money(l.TaxMinor, currency),
		Account: l.Account, State: orderv1.PostingLine_State(l.State), RejectionReason: l.RejectionReason,
		ErpErrorCode: l.ERPErrorCode, ErpDocumentNumber: l.ERPDocumentNumber, AttemptCount: int32(min(l.Attempts, 1<<30)),
		PostTime: ts(l.PostedAt),
	}
}

// PostingBatch converts a batch with its lines.
func PostingBatch(b order.PostingBatch) *orderv1.PostingBatch {
	net, tax, _ := b.Totals() // lines were validated as documents; sums fit
	p := &orderv1.PostingBatch{
		Name: PostingBatchName(b.ID), PostingBatchId: b.ID, Kind: PostingKind(b.Kind), CurrencyCode: b.Currency,
		CutoffTime: ts(b.Cutoff), State: orderv1.PostingBatch_State(b.State),
		TotalAmount: Money(net, b.Currency), TotalTax: Money(tax, b.Currency), ErpBatchReference: b.ERPBatchReference,
		PendingLineCount: int32(b.Count(order.LinePending)), PostedLineCount: int32(b.Count(order.LinePosted)),
		RejectedLineCount: int32(b.Count(order.LineRejected)), DuplicateLineCount: int32(b.Count(order.LineDuplicate)),
		AttemptCount: int32(min(b.Attempts, 1<<30)), LastError: b.LastError, CreateRequestId: b.CreateRequestID,
		CreateTime: ts(b.CreatedAt), UpdateTime: ts(b.UpdatedAt), SubmitTime: ts(b.SubmittedAt),
		Etag: "W/\"" + b.ID + "-" + strconv.FormatInt(b.Version, 10) + "\"",
	}
	for _, l := range b.Lines {
		p.Lines = append(p.Lines, PostingLine(l, b.Currency))
	}
	return p
}

// PostingBatchPosted implements sqlstore.PostingEncoder.
func (Encoder) PostingBatchPosted(b order.PostingBatch, prev order.PostingBatchState) (outbox.Event, error) {
	pb := PostingBatch(b)
	return outbox.Event{
		AggregateType: PostingAggregateType, AggregateID: b.ID, Subject: SubjectPostingBatchPosted, Producer: Producer,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &orderv1.PostingBatchPostedEvent{Metadata: md, PostingBatch: pb, PreviousState: orderv1.PostingBatch_State(prev)}, nil
		},
	}, nil
}

// PostingLineRejected implements sqlstore.PostingEncoder: the
// PostingLineRejectedEvent and the KIND_POSTING_LINE_REJECTED exception
// (details "batchId", "lineHash", "document", "erpMessage"; resource the
// batch line, so each rejected line is its own desk entry).
func (Encoder) PostingLineRejected(b order.PostingBatch, l order.PostingLine, at time.Time) ([]outbox.Event, error) {
	pl := PostingLine(l, b.Currency)
	kind := PostingKind(b.Kind)
	name := PostingBatchName(b.ID)
	ev := outbox.Event{
		AggregateType: PostingAggregateType, AggregateID: b.ID, Subject: SubjectPostingLineRejected, Producer: Producer,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
			return &orderv1.PostingLineRejectedEvent{Metadata: md, PostingBatch: name, Kind: kind, Line: pl}, nil
		},
	}
	ex, err := opsevents.Raise(Producer, opsevents.Exception{
		Kind: opsv1.Exception_KIND_POSTING_LINE_REJECTED, Severity: opsv1.Exception_SEVERITY_MEDIUM, Domain: opsv1.Exception_DOMAIN_FINANCE,
		Resource:      name + "/lines/" + l.ID(),
		AggregateType: PostingAggregateType, AggregateID: b.ID,
		Message: "ERP rejected " + string(b.Kind) + " line " + l.SourceLineID + " of " + l.DocumentID + ": " + l.RejectionReason,
		Details: map[string]any{"batchId": b.ID, "lineHash": l.Hash, "document": l.DocumentID, "erpMessage": l.RejectionReason,
			"order": l.OrderID, "customer": l.CustomerID, "erpCode": l.ERPErrorCode},
		OccurredAt: at,
	})
	if err != nil {
		return nil, err
	}
	return []outbox.Event{ev, ex}, nil
}

// PostingAudit implements sqlstore.PostingEncoder: the AuditRecordedEvent
// of a posting batch change, its before and after as the poster describes
// them (state names as order.v1 PostingBatch.State, line ids, the
// operator's note).
func (Encoder) PostingAudit(a order.Audit) (outbox.Event, error) {
	conv := func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			if st, ok := x.(order.PostingBatchState); ok {
				x = orderv1.PostingBatch_State(st).String()
			}
			out[k] = x
		}
		return out
	}
	return opsevents.Record(Producer, opsevents.Audit{
		Actor: opsevents.Actor{Kind: a.Actor.Kind, ID: a.Actor.ID}, Action: a.Action, Target: a.Target,
		Before: conv(a.Before), After: conv(a.After), OccurredAt: a.OccurredAt,
	})
}
