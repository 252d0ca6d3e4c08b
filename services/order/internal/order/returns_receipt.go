package order

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ReceivedLine is what the warehouse received for one return line in one
// receipt.
type ReceivedLine struct {
	LineID      string
	Quantity    int64
	Disposition Disposition
}

// ReceiptParams is a RecordReturnReceipt report.
type ReceiptParams struct {
	ReturnID, EventID, WarehouseID string
	Lines                          []ReceivedLine
	ReceivedAt                     time.Time
	ReceiptID                      string
	Actor                          Actor
	CorrelationID                  string
}

// hash is the idempotency fingerprint of a receipt (stored: never change).
func (p ReceiptParams) hash() string {
	parts := []string{p.ReturnID, p.WarehouseID, p.ReceivedAt.UTC().Format(time.RFC3339Nano), p.ReceiptID}
	for _, l := range p.Lines {
		parts = append(parts, l.LineID, strconv.FormatInt(l.Quantity, 10), strconv.Itoa(int(l.Disposition)))
	}
	return fingerprint.Of(parts)
}

// ReceiptResult is the outcome of RecordReturnReceipt.
type ReceiptResult struct {
	Return    *Return
	Duplicate bool
}

// RecordReturnReceipt applies a WMS receipt to a return, idempotently on
// p.EventID: in one transaction it adds the received quantities by
// disposition, moves the return to RECEIVED (and on to CLOSED once every
// line is fully received and nothing is to be credited), adds the
// quantities to the order lines' returned quantity and credits the REFUND
// quantities at the order's prices (Refund, cumulative per order line over
// all its returns). A return with REPLACEMENT lines then gets its
// replacement order (see ensureReplacement), also when the receipt is
// repeated after a crash.
func (rs *Returns) RecordReturnReceipt(ctx context.Context, p ReceiptParams) (ReceiptResult, error) {
	key := &IdempotencyKey{Kind: "return_receipt", Key: p.EventID, PayloadHash: p.hash()}
	r, err := rs.store.UpdateReturn(ctx, p.ReturnID, key, func(r *Return, o *Order, others []*Return) (ReturnEffects, error) {
		return rs.applyReceipt(r, o, others, p)
	})
	dup := errors.Is(err, ErrDuplicateEvent)
	if dup {
		r, err = rs.store.GetReturn(ctx, p.ReturnID)
	}
	if err != nil {
		return ReceiptResult{}, err
	}
	if !dup {
		rs.svc.published()
	}
	r, err = rs.ensureReplacement(ctx, r, p.Actor, p.CorrelationID)
	if err != nil {
		return ReceiptResult{}, err
	}
	return ReceiptResult{Return: r, Duplicate: dup}, nil
}

// applyReceipt is the change of one receipt; see RecordReturnReceipt.
func (rs *Returns) applyReceipt(r *Return, o *Order, others []*Return, p ReceiptParams) (ReturnEffects, error) {
	if r.State != ReturnAuthorized && r.State != ReturnReceived {
		return ReturnEffects{}, &ReturnTransitionError{ReturnID: r.ID, From: r.State, To: ReturnReceived}
	}
	idx := map[string]int{}
	for i, l := range r.Lines {
		idx[l.ID] = i
	}
	adding := map[string]int64{}
	for _, rl := range p.Lines {
		i, ok := idx[rl.LineID]
		if !ok {
			return ReturnEffects{}, &UnknownLineError{LineID: rl.LineID}
		}
		if rl.Quantity <= 0 || rl.Disposition < DispositionRestock || rl.Disposition > DispositionScrap {
			return ReturnEffects{}, &InvalidArgumentError{Field: "lines", Message: "return line " + rl.LineID + " needs a positive quantity and a disposition"}
		}
		adding[rl.LineID] += rl.Quantity
		l := r.Lines[i]
		if allowed := l.Quantity - l.ReceivedQuantity(); adding[rl.LineID] > allowed {
			return ReturnEffects{}, &ReceiptQuantityError{LineID: rl.LineID, Requested: adding[rl.LineID], Allowed: allowed}
		}
	}
	before, now := r.Clone(), rs.svc.now()
	refunded := refundedReceived(append([]*Return{r}, others...))
	memo := Document{ID: CreditMemoID(r.ID, p.EventID), Kind: DocumentCreditMemo, OrderID: o.ID, CustomerID: o.CustomerID,
		SourceID: r.ID, Currency: o.Currency, CreatedAt: now}
	for _, rl := range p.Lines {
		l := &r.Lines[idx[rl.LineID]]
		addDisposition(l, rl.Disposition, rl.Quantity)
		ol := o.line(l.OrderLineID)
		if ol == nil {
			return ReturnEffects{}, &UnknownLineError{LineID: l.OrderLineID}
		}
		ol.Returned += rl.Quantity
		if l.Resolution == ResolutionRefund {
			credit, err := Refund(ol.ExtendedMinor, ol.Quantity, refunded[ol.ID], rl.Quantity)
			if err != nil {
				return ReturnEffects{}, err
			}
			refunded[ol.ID] += rl.Quantity
			l.CreditMinor += credit
			r.CreditTotalMinor += credit
			if err := addCreditLine(&memo, o, *ol, l.ID, rl.Quantity, credit); err != nil {
				return ReturnEffects{}, err
			}
		}
	}
	o.UpdatedAt = now
	reason := "receipt " + p.EventID
	if r.State == ReturnAuthorized {
		if err := r.transition(ReturnReceived, now, p.Actor, reason, p.CorrelationID); err != nil {
			return ReturnEffects{}, err
		}
		r.ReceivedAt = p.ReceivedAt
		if r.ReceivedAt.IsZero() {
			r.ReceivedAt = now
		}
	}
	r.UpdatedAt = now
	eff := ReturnEffects{Order: o, Events: []ReturnEvent{{Type: EventReturnReceived, Return: r.Clone(),
		PreviousState: before.State, WarehouseID: p.WarehouseID, Received: p.Lines}}}
	if len(memo.Lines) > 0 {
		eff.Documents = []Document{memo}
	}
	if fullyReceived(r) && r.CreditTotalMinor == 0 {
		if err := r.transition(ReturnClosed, now, p.Actor, "fully received; nothing to credit", p.CorrelationID); err != nil {
			return ReturnEffects{}, err
		}
		eff.Events = append(eff.Events, ReturnEvent{Type: EventReturnClosed, Return: r.Clone(), PreviousState: ReturnReceived})
	}
	eff.Audits = []Audit{returnAudit(AuditReturnReceive, p.Actor, before, r, now)}
	return eff, nil
}

// CreditMemoID is the id of the credit memo of one receipt (eventID) of a
// return: "{return}:{event}", or a digest of both when that exceeds the
// ERP's 64 characters, so a repeated receipt derives the same id.
func CreditMemoID(returnID, eventID string) string {
	id := returnID + ":" + eventID
	if len(id) <= maxDocumentIDLen {
		return id
	}
	return "cm-" + fingerprint.Of([]string{returnID, eventID})[:60]
}

// addCreditLine adds qty units credited at credit to memo's line of return
// line lineID (one line per return line), with the tax share of the
// order's tax that the credit carries, as invoices do.
func addCreditLine(memo *Document, o *Order, ol Line, lineID string, qty, credit int64) error {
	var tax int64
	if o.TaxMinor > 0 && o.SubtotalMinor > 0 {
		var err error
		if tax, err = ProRataMinor(o.TaxMinor, min(credit, o.SubtotalMinor), o.SubtotalMinor); err != nil {
			return err
		}
	}
	for i := range memo.Lines {
		if ml := &memo.Lines[i]; ml.SourceLineID == lineID {
			ml.Quantity += qty
			ml.AmountMinor += credit
			ml.TaxMinor += tax
			return nil
		}
	}
	memo.Lines = append(memo.Lines, DocumentLine{SourceLineID: lineID, OrderLineID: ol.ID, SKU: ol.SKU, Quantity: qty,
		UnitPriceMinor: ol.UnitPriceMinor, TaxMinor: tax, AmountMinor: credit})
	return nil
}

// addDisposition adds q received units with disposition d to l.
func addDisposition(l *ReturnLine, d Disposition, q int64) {
	for i := range l.Received {
		if l.Received[i].Disposition == d {
			l.Received[i].Quantity += q
			return
		}
	}
	l.Received = append(l.Received, DispositionQuantity{Disposition: d, Quantity: q})
}

// refundedReceived is, per order line, the received REFUND quantity over
// the given returns: what was credited before.
func refundedReceived(rs []*Return) map[string]int64 {
	out := map[string]int64{}
	for _, r := range rs {
		for _, l := range r.Lines {
			if l.Resolution == ResolutionRefund {
				out[l.OrderLineID] += l.ReceivedQuantity()
			}
		}
	}
	return out
}

// fullyReceived reports whether every line of r was received in full.
func fullyReceived(r *Return) bool {
	for _, l := range r.Lines {
		if l.ReceivedQuantity() < l.Quantity {
			return false
		}
	}
	return true
}

// ReplacementRequestID is the CreateOrder request id of a return's
// replacement order: one per return, so a repeated receipt or a retry
// after a crash places it once.
func ReplacementRequestID(returnID string) string { return "return-replacement:" + returnID }

// ReplacementPriceRule is the price rule of a replacement order's lines:
// they are at no charge because they replace the goods of return
// returnID, which the customer paid for on the original order.
func ReplacementPriceRule(returnID string) string {
	return "no-charge:replacement-for-return/" + returnID
}

// chargeNothing prices lines at zero, each line's price rule naming
// reason (the quote it was priced from stays as the list price's
// reference), and returns the subtotal: 0. A replacement's shipment is
// invoiced like any other, at zero, so the ERP journal shows the goods
// leaving at no charge and the invoices still sum to the value shipped.
func chargeNothing(lines []Line, reason string) int64 {
	for i := range lines {
		lines[i].UnitPriceMinor, lines[i].ExtendedMinor, lines[i].PriceRuleID = 0, 0, reason
	}
	return 0
}

// ensureReplacement places the replacement order of r when r received
// goods on REPLACEMENT lines and has none yet, through Service.CreateOrder
// (normal placement: pricing, stock, ERP queue) with the request id
// ReplacementRequestID, at no charge (every line at zero, price rule
// ReplacementPriceRule: the customer paid for the goods on the original
// order), and records its id on the return. The order ships
// the REPLACEMENT lines' full authorized quantities to the original ship-to
// address. A dependency outage is returned (the receipt's sender retries;
// the retry is a duplicate receipt and places the order then); a business
// refusal (customer blocked, out of stock) is logged and leaves the return
// without replacement for an operator.
func (rs *Returns) ensureReplacement(ctx context.Context, r *Return, actor Actor, correlationID string) (*Return, error) {
	if r.ReplacementOrderID != "" {
		return r, nil
	}
	var lines []QuoteLine
	received := false
	for _, l := range r.Lines {
		if l.Resolution != ResolutionReplacement {
			continue
		}
		lines = append(lines, QuoteLine{SKU: l.SKU, Quantity: l.Quantity})
		received = received || l.ReceivedQuantity() > 0
	}
	if !received {
		return r, nil
	}
	orig, err := rs.svc.GetOrder(ctx, r.OrderID)
	if err != nil {
		return nil, err
	}
	res, err := rs.svc.CreateOrder(ctx, CreateParams{
		RequestID: ReplacementRequestID(r.ID), CustomerID: orig.CustomerID, Channel: orig.Channel, Currency: orig.Currency,
		ShipTo: orig.ShipTo, Lines: lines, CustomerPONumber: orig.CustomerPONumber,
		Notes: "replacement for return " + r.ID + " of order " + orig.ID, Actor: actor, CorrelationID: correlationID,
		NoChargeReason: ReplacementPriceRule(r.ID),
	})
	if err != nil {
		if IsDependencyError(err) {
			return nil, err
		}
		rs.svc.log.WarnContext(ctx, "replacement order refused; the return waits for an operator",
			slog.String("return_id", r.ID), slog.Any("error", err))
		return r, nil
	}
	key := &IdempotencyKey{Kind: "return_replacement", Key: r.ID, PayloadHash: res.Order.ID}
	upd, err := rs.store.UpdateReturn(ctx, r.ID, key, func(r *Return, _ *Order, _ []*Return) (ReturnEffects, error) {
		before, now := r.Clone(), rs.svc.now()
		r.ReplacementOrderID = res.Order.ID
		r.UpdatedAt = now
		return ReturnEffects{Audits: []Audit{returnAudit(AuditReturnReplace, ServiceActor, before, r, now)}}, nil
	})
	if errors.Is(err, ErrDuplicateEvent) {
		return rs.store.GetReturn(ctx, r.ID)
	}
	return upd, err
}
