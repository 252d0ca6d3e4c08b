package fulfillment

import (
	"fmt"
	"time"
)

// Disposition is what a warehouse did with returned units, named like the
// fulfillment.v1 Disposition values without the prefix.
type Disposition string

// Dispositions. Only RESTOCK units become sellable again.
const (
	DispositionRestock    Disposition = "RESTOCK"
	DispositionQuarantine Disposition = "QUARANTINE"
	DispositionScrap      Disposition = "SCRAP"
)

// Valid reports whether d is one of the three dispositions.
func (d Disposition) Valid() bool {
	return d == DispositionRestock || d == DispositionQuarantine || d == DispositionScrap
}

// ReceiptLine is what a warehouse received for one return line with one
// disposition.
type ReceiptLine struct {
	// ReturnLineID is the return authorization's line id; in a WMS event
	// it may be empty (matched by SKU).
	ReturnLineID string      `json:"returnLineId"`
	OrderLineID  string      `json:"orderLineId"`
	SKU          string      `json:"sku"`
	Quantity     int64       `json:"quantity"`
	Disposition  Disposition `json:"disposition"`
	// Condition and Note are the WMS's inspection result.
	Condition string `json:"condition,omitempty"`
	Note      string `json:"note,omitempty"`
}

// ReturnReceiptEvent is a receipt of returned goods as a WMS reports it.
type ReturnReceiptEvent struct {
	EventID string
	// ExpectedReturnID is the id the expected return was registered under
	// ("" for an unplanned return).
	ExpectedReturnID string
	OrderID          string
	WarehouseID      string
	WMSReference     string
	Lines            []ReceiptLine
	Complete         bool
	OccurTime        time.Time
}

// ReturnRefusal is a WMS return receipt the service refused (for an
// unplanned return, another warehouse, unknown lines or more than
// expected), or an expected return the WMS refused to register (no
// WMSEventID; Reason is the WMS's rejection reason).
type ReturnRefusal struct {
	// ExpectedReturnID is what the receipt named ("" for an unplanned
	// return without one).
	ExpectedReturnID string
	OrderID          string
	WarehouseID      string
	WMSEventID       string
	Reason           RejectReason
	Message          string
}

// ReturnReceipt is a recorded receipt of returned goods against a return
// authorization.
type ReturnReceipt struct {
	ID                    string
	ReturnAuthorizationID string
	ExpectedReturnID      string
	OrderID               string
	CustomerID            string
	WarehouseID           string
	Lines                 []ReceiptLine
	ReceiveTime           time.Time
	// Source and WMSEventID name the WMS event that reported it.
	Source       string
	WMSEventID   string
	WMSReference string
	// OrderRecordTime is when the order service took the receipt (zero
	// while pending); LastError the last failure handing it over.
	OrderRecordTime time.Time
	LastError       string
	CreateTime      time.Time
}

// NewReturnReceipt checks a WMS receipt against the expected return it
// names and returns the receipt to record, every line matched to its
// return and order line (by line id, else by SKU when exactly one line
// has it). Refusals are *RejectionError: a warehouse other than the
// expected return's, a line or SKU the return does not have, a quantity
// that is not positive or an unknown disposition.
func NewReturnReceipt(id, source string, ev ReturnReceiptEvent, er ExpectedReturn, customerID string, now time.Time) (*ReturnReceipt, error) {
	if ev.WarehouseID != "" && ev.WarehouseID != er.WarehouseID {
		return nil, &RejectionError{Reason: RejectWarehouseMismatch,
			Message: fmt.Sprintf("return %s was expected at %s, received at %s", er.ID, er.WarehouseID, ev.WarehouseID)}
	}
	if len(ev.Lines) == 0 {
		return nil, &RejectionError{Reason: RejectUnknownOrderLine, Message: "return receipt without lines"}
	}
	rr := &ReturnReceipt{
		ID: id, ReturnAuthorizationID: er.ReturnAuthorizationID, ExpectedReturnID: er.ID, OrderID: er.OrderID,
		CustomerID: customerID, WarehouseID: er.WarehouseID, ReceiveTime: ev.OccurTime, Source: source,
		WMSEventID: ev.EventID, WMSReference: ev.WMSReference, CreateTime: now,
	}
	if rr.ReceiveTime.IsZero() {
		rr.ReceiveTime = now
	}
	for _, l := range ev.Lines {
		exp, ok := matchReturnLine(er.Lines, l)
		if !ok {
			return nil, &RejectionError{Reason: RejectUnknownOrderLine,
				Message: fmt.Sprintf("return %s has no line %q / SKU %q (or several with that SKU)", er.ID, l.ReturnLineID, l.SKU)}
		}
		if l.Quantity <= 0 || !l.Disposition.Valid() {
			return nil, &RejectionError{Reason: RejectUnknownOrderLine,
				Message: fmt.Sprintf("return %s line %s: quantity %d, disposition %q", er.ID, exp.LineID, l.Quantity, l.Disposition)}
		}
		l.ReturnLineID, l.OrderLineID, l.SKU = exp.LineID, exp.OrderLineID, exp.SKU
		rr.Lines = append(rr.Lines, l)
	}
	return rr, nil
}

// CheckReceivable refuses rr when, with the receipts recorded before
// (prior), more units of a return line would be received than er expects:
// a RejectionError with RejectQuantityExceedsRequested, so nothing of it is
// restocked or reported.
func (er ExpectedReturn) CheckReceivable(prior []*ReturnReceipt, rr *ReturnReceipt) error {
	got := map[string]int64{}
	for _, p := range append(prior, rr) {
		for _, l := range p.Lines {
			got[l.ReturnLineID] += l.Quantity
		}
	}
	for _, l := range er.Lines {
		if got[l.LineID] > l.Quantity {
			return &RejectionError{Reason: RejectQuantityExceedsRequested,
				Message: fmt.Sprintf("return %s line %s: %d received in all, %d expected", er.ID, l.LineID, got[l.LineID], l.Quantity)}
		}
	}
	return nil
}

func matchReturnLine(lines []ReturnLine, l ReceiptLine) (ReturnLine, bool) {
	if l.ReturnLineID != "" {
		for _, e := range lines {
			if e.LineID == l.ReturnLineID && (l.SKU == "" || l.SKU == e.SKU) {
				return e, true
			}
		}
		return ReturnLine{}, false
	}
	var found []ReturnLine
	for _, e := range lines {
		if e.SKU == l.SKU {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		return ReturnLine{}, false
	}
	return found[0], true
}

// Restock is the inventory call that puts restocked units back into
// sellable stock: one RETURN_RESTOCK stock event per SKU, each with the
// next sequence of fulfilment's own (SKU, warehouse) stream, so the
// warehouse's own stock feed keeps its sequences.
type Restock struct {
	// RequestID is the idempotency key of the call (the receipt id).
	RequestID string
	Events    []StockEvent
}

// StockEvent is one RETURN_RESTOCK stock event.
type StockEvent struct {
	// EventID is unique per source system; inventory de-duplicates on it.
	EventID     string
	SKU         string
	WarehouseID string
	Sequence    int64
	Quantity    int64
	Reference   string
	OccurTime   time.Time
}

// RestockQuantities returns the RESTOCK units of rr per SKU, in the order
// the SKUs first appear.
func (rr *ReturnReceipt) RestockQuantities() []ReceiptLine {
	var out []ReceiptLine
	idx := map[string]int{}
	for _, l := range rr.Lines {
		if l.Disposition != DispositionRestock {
			continue
		}
		if i, ok := idx[l.SKU]; ok {
			out[i].Quantity += l.Quantity
			continue
		}
		idx[l.SKU] = len(out)
		out = append(out, ReceiptLine{SKU: l.SKU, Quantity: l.Quantity, Disposition: DispositionRestock})
	}
	return out
}

// ReceiptReport is the order service call that records a receipt against
// its return authorization (order.v1 RecordReturnReceipt).
type ReceiptReport struct {
	OrderID               string
	ReturnAuthorizationID string
	// EventID is the idempotency key (the receipt id).
	EventID     string
	WarehouseID string
	Lines       []ReceiptLine
	ReceiveTime time.Time
	ReceiptID   string
}

// Report returns the order service call of rr.
func (rr *ReturnReceipt) Report() ReceiptReport {
	return ReceiptReport{
		OrderID: rr.OrderID, ReturnAuthorizationID: rr.ReturnAuthorizationID, EventID: rr.ID,
		WarehouseID: rr.WarehouseID, Lines: rr.Lines, ReceiveTime: rr.ReceiveTime, ReceiptID: rr.ID,
	}
}

// RestockEffect returns the effect that restocks r, due at now, keyed by
// its request id. Restocks share one lane (see EffectRestock).
func RestockEffect(orderID string, r Restock, now time.Time) Effect {
	return Effect{Kind: EffectRestock, OrderID: orderID, Key: r.RequestID, Restock: &r, NextAttemptAt: now, CreateTime: now}
}

// ReceiptEffect returns the effect that reports p, due at now, keyed by
// its event id.
func ReceiptEffect(p ReceiptReport, now time.Time) Effect {
	return Effect{Kind: EffectRecordReturnReceipt, OrderID: p.OrderID, Key: p.EventID, Receipt: &p, NextAttemptAt: now, CreateTime: now}
}

// ReturnReceiptQuery selects return receipts for listing, in receive time
// order (then id).
type ReturnReceiptQuery struct {
	Page
	// OrderID restricts to one order; empty means all orders.
	OrderID               string
	ReturnAuthorizationID string
	WarehouseID           string
	CustomerID            string
	// ReceivedFrom and ReceivedBefore bound receive_time (zero: unbounded).
	ReceivedFrom   time.Time
	ReceivedBefore time.Time
}
