package fulfillment

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// ReturnLine is one line of an expected return: the RMA line (its id is
// the line id the WMS reports back on receipt), the order line it returns
// and the units expected.
type ReturnLine struct {
	// LineID is the return authorization's line id (the order line id
	// when the RMA names none); the WMS reports receipts against it.
	LineID      string `json:"lineId"`
	OrderLineID string `json:"orderLineId"`
	SKU         string `json:"sku"`
	Quantity    int64  `json:"quantity"`
	// Reason is the customer's return reason (the order.v1 enum name).
	Reason string `json:"reason,omitempty"`
}

// ExpectedReturn is what fulfilment announces to the receiving warehouse
// for an authorized return: the goods of one return authorization that
// one warehouse shipped. ID is the WMS's idempotency key: the return
// authorization id, suffixed with "." and the warehouse code when the
// return spans several warehouses.
type ExpectedReturn struct {
	ID                    string       `json:"id"`
	ReturnAuthorizationID string       `json:"returnAuthorizationId"`
	OrderID               string       `json:"orderId"`
	WarehouseID           string       `json:"warehouseId"`
	Lines                 []ReturnLine `json:"lines"`
	CreateTime            time.Time    `json:"createTime"`
	// CancelTime is when its return authorization was closed without
	// receipt (cancelled or expired); zero while it is expected. A
	// cancelled expected return is not registered with the WMS any more,
	// and goods received against it are recorded for the exception desk
	// instead of being restocked and reported to the order service.
	CancelTime time.Time `json:"cancelTime,omitzero"`
}

// Cancelled reports whether er's return authorization was closed without
// receipt.
func (er ExpectedReturn) Cancelled() bool { return !er.CancelTime.IsZero() }

// ExpectedReturnsFor splits the lines of return authorization rmaID of
// order orderID by the warehouse that shipped each order line (requests
// are the order's fulfilment requests): one ExpectedReturn per warehouse,
// in the order the warehouses first appear in lines. A line whose order
// line no request ships fails with ErrInvalidArgument: there is no
// warehouse to send the goods back to; so does a line of quantity <= 0
// (order.v1 authorizes only positive return quantities; such a line
// would expect nothing, or a negative receipt, from the warehouse).
func ExpectedReturnsFor(rmaID, orderID string, lines []ReturnLine, requests []*Request, now time.Time) ([]ExpectedReturn, error) {
	if rmaID == "" || len(lines) == 0 {
		return nil, fmt.Errorf("%w: return authorization %q of order %s without id or lines", ErrInvalidArgument, rmaID, orderID)
	}
	byWarehouse := map[string]*ExpectedReturn{}
	var order []string
	for _, l := range lines {
		if l.Quantity <= 0 {
			return nil, fmt.Errorf("%w: return authorization %s: order line %q of order %s has return quantity %d, want > 0",
				ErrInvalidArgument, rmaID, l.OrderLineID, orderID, l.Quantity)
		}
		wh := warehouseOfLine(requests, l.OrderLineID)
		if wh == "" {
			return nil, fmt.Errorf("%w: return authorization %s: order line %q of order %s was not fulfilled by any warehouse",
				ErrInvalidArgument, rmaID, l.OrderLineID, orderID)
		}
		if l.LineID == "" {
			l.LineID = l.OrderLineID
		}
		if l.SKU == "" {
			l.SKU = skuOfLine(requests, l.OrderLineID)
		}
		er, ok := byWarehouse[wh]
		if !ok {
			er = &ExpectedReturn{ID: rmaID, ReturnAuthorizationID: rmaID, OrderID: orderID, WarehouseID: wh, CreateTime: now}
			byWarehouse[wh] = er
			order = append(order, wh)
		}
		er.Lines = append(er.Lines, l)
	}
	out := make([]ExpectedReturn, 0, len(order))
	for _, wh := range order {
		er := *byWarehouse[wh]
		if len(order) > 1 {
			er.ID = rmaID + "." + wh
		}
		out = append(out, er)
	}
	return out, nil
}

// warehouseOfLine returns the warehouse of the first request (not
// cancelled or failed) that allocates orderLineID, preferring one that
// shipped some of it; "" when none does.
func warehouseOfLine(requests []*Request, orderLineID string) string {
	found := ""
	for _, r := range requests {
		if r.State == RequestCancelled || r.State == RequestFailed {
			continue
		}
		i := slices.IndexFunc(r.Lines, func(l Line) bool { return l.OrderLineID == orderLineID })
		if i < 0 {
			continue
		}
		if r.Lines[i].ShippedQuantity > 0 {
			return r.WarehouseID
		}
		if found == "" {
			found = r.WarehouseID
		}
	}
	return found
}

func skuOfLine(requests []*Request, orderLineID string) string {
	for _, r := range requests {
		for _, l := range r.Lines {
			if l.OrderLineID == orderLineID {
				return l.SKU
			}
		}
	}
	return ""
}

// RegisterReturnEffect returns the effect that registers er with the WMS,
// due at now; it is keyed by the expected return's id, which the WMS
// registers once.
func RegisterReturnEffect(er ExpectedReturn, now time.Time) Effect {
	return Effect{Kind: EffectRegisterExpectedReturn, OrderID: er.OrderID, Key: er.ID, Return: &er, NextAttemptAt: now, CreateTime: now}
}

// EffectCancelExpectedReturn withdraws an expected return at the WMS
// (wms.v1 CancelExpectedReturn) after its return authorization was closed
// without receipt; its call is the expected return, like the
// registration's.
const EffectCancelExpectedReturn EffectKind = "wms.cancel_expected_return"

// CancelReturnEffect returns the effect that cancels er at the WMS, due at
// now; it is keyed by the expected return's id (one cancellation each).
func CancelReturnEffect(er ExpectedReturn, now time.Time) Effect {
	return Effect{Kind: EffectCancelExpectedReturn, OrderID: er.OrderID, Key: er.ID, Return: &er, NextAttemptAt: now, CreateTime: now}
}

// RejectReturnCancelled: goods were received against an expected return
// whose return authorization was closed without receipt (the parcel
// arrived after the cancellation or expiry). The receipt is recorded, but
// neither restocked nor reported to the order service: the desk decides.
const RejectReturnCancelled RejectReason = "RETURN_AUTHORIZATION_CLOSED"

// Errors of the WMS's CancelExpectedReturn.
var (
	// ErrReturnAlreadyReceived: the WMS received goods against the
	// expected return; it cannot be cancelled (the receipt reaches
	// fulfilment through the return feed).
	ErrReturnAlreadyReceived = errors.New("expected return already received at the wms")
	// ErrExpectedReturnUnknown: the WMS never registered the expected
	// return.
	ErrExpectedReturnUnknown = errors.New("expected return unknown at the wms")
)
