package order

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// DocumentKind is the type of a financial document the order service
// issues and posts to the ERP.
type DocumentKind string

// Document kinds.
const (
	// DocumentInvoice bills the customer for shipped quantities; one per
	// shipment.
	DocumentInvoice DocumentKind = "invoice"
	// DocumentCreditMemo credits the customer for received refund return
	// lines; one per return authorization receipt.
	DocumentCreditMemo DocumentKind = "credit_memo"
)

// Valid reports whether k is a known kind.
func (k DocumentKind) Valid() bool { return k == DocumentInvoice || k == DocumentCreditMemo }

// Document is an invoice or a credit memo with its lines. It is stored in
// the same transaction as the change that caused it (Effects.Documents) and
// never changes afterwards; posting state lives with the posting batches.
type Document struct {
	// ID is unique across documents of every kind; see InvoiceID. At most
	// 64 characters (the ERP's limit).
	ID         string
	Kind       DocumentKind
	OrderID    string
	CustomerID string
	// SourceID is what caused the document: the shipment id of an invoice,
	// the return authorization id of a credit memo.
	SourceID string
	// Currency is the ISO 4217 code of every amount of the document.
	Currency  string
	Lines     []DocumentLine
	CreatedAt time.Time
}

// DocumentLine is one line of a document. Amounts are positive minor units
// for invoices and credit memos alike; the kind gives the direction.
type DocumentLine struct {
	// SourceLineID identifies the line within its document: the order line
	// id on an invoice, the return line id on a credit memo.
	SourceLineID string
	// OrderLineID is the order line invoiced or credited.
	OrderLineID    string
	SKU            string
	Quantity       int64
	UnitPriceMinor int64
	// TaxMinor is the line's tax.
	TaxMinor int64
	// AmountMinor is the net amount (before tax): Quantity × UnitPriceMinor
	// for an invoice line, the refund for a credit memo line.
	AmountMinor int64
}

// maxDocumentIDLen is the ERP's limit on a document id.
const maxDocumentIDLen = 64

// ErrDocumentNotFound: no document has the id.
var ErrDocumentNotFound = errors.New("document not found")

// ErrAmountOverflow is returned when money arithmetic leaves int64.
var ErrAmountOverflow = errors.New("amount overflows int64 minor units")

// InvoiceID is the id of the invoice of one shipment of an order,
// "{order_id}:{shipment_id}" as order.v1 PostingLine documents it; ids
// that would exceed the ERP's 64 characters are shortened to a digest of
// both parts, so the id stays a function of the shipment.
func InvoiceID(orderID, shipmentID string) string {
	id := orderID + ":" + shipmentID
	if len(id) <= maxDocumentIDLen {
		return id
	}
	return "inv-" + fingerprint.Of([]string{orderID, shipmentID})[:60]
}

// MulMinor returns quantity × unitMinor, refusing negative inputs and
// overflow.
func MulMinor(quantity, unitMinor int64) (int64, error) {
	if quantity < 0 || unitMinor < 0 {
		return 0, fmt.Errorf("negative quantity %d or unit amount %d", quantity, unitMinor)
	}
	hi, lo := bits.Mul64(uint64(quantity), uint64(unitMinor))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, ErrAmountOverflow
	}
	return int64(lo), nil
}

// AddMinor returns a + b, refusing overflow.
func AddMinor(a, b int64) (int64, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, ErrAmountOverflow
	}
	return s, nil
}

// ProRataMinor returns floor(total × part / whole) without intermediate
// overflow: the share of total that part of whole carries. It needs
// 0 <= part <= whole, whole > 0 and total >= 0; the result is then between
// 0 and total.
func ProRataMinor(total, part, whole int64) (int64, error) {
	if total < 0 || part < 0 || whole <= 0 || part > whole {
		return 0, fmt.Errorf("pro rata of %d for %d of %d: out of range", total, part, whole)
	}
	hi, lo := bits.Mul64(uint64(total), uint64(part))
	q, _ := bits.Div64(hi, lo, uint64(whole)) // hi < whole since part <= whole
	return int64(q), nil
}

// NewInvoiceLine prices quantity of order line l as an invoice line: the
// unit price as on the order and the tax share of the order's tax that the
// line's amount carries in the order's subtotal (zero when the order has no
// tax).
func NewInvoiceLine(o *Order, l Line, quantity int64) (DocumentLine, error) {
	amount, err := MulMinor(quantity, l.UnitPriceMinor)
	if err != nil {
		return DocumentLine{}, fmt.Errorf("line %s: %w", l.ID, err)
	}
	var tax int64
	if o.TaxMinor > 0 && o.SubtotalMinor > 0 {
		if tax, err = ProRataMinor(o.TaxMinor, min(amount, o.SubtotalMinor), o.SubtotalMinor); err != nil {
			return DocumentLine{}, fmt.Errorf("line %s tax: %w", l.ID, err)
		}
	}
	return DocumentLine{SourceLineID: l.ID, OrderLineID: l.ID, SKU: l.SKU, Quantity: quantity,
		UnitPriceMinor: l.UnitPriceMinor, TaxMinor: tax, AmountMinor: amount}, nil
}

// TotalMinor is the sum of the lines' net amounts and their tax.
func (d Document) TotalMinor() (net, tax int64, err error) {
	for _, l := range d.Lines {
		if net, err = AddMinor(net, l.AmountMinor); err != nil {
			return 0, 0, err
		}
		if tax, err = AddMinor(tax, l.TaxMinor); err != nil {
			return 0, 0, err
		}
	}
	return net, tax, nil
}

// Validate checks what the store and the ERP rely on: a known kind, ids
// set and within the ERP's limits, at least one line, line ids unique,
// positive quantities, non-negative amounts and a total that fits int64.
func (d Document) Validate() error {
	switch {
	case d.ID == "" || len(d.ID) > maxDocumentIDLen:
		return fmt.Errorf("document id %q: must be 1..%d characters", d.ID, maxDocumentIDLen)
	case !d.Kind.Valid():
		return fmt.Errorf("document %s: unknown kind %q", d.ID, d.Kind)
	case d.OrderID == "" || d.CustomerID == "" || d.SourceID == "":
		return fmt.Errorf("document %s: order, customer and source ids are required", d.ID)
	case len(d.Currency) != 3:
		return fmt.Errorf("document %s: currency %q is not an ISO 4217 code", d.ID, d.Currency)
	case len(d.Lines) == 0:
		return fmt.Errorf("document %s: no lines", d.ID)
	}
	seen := make(map[string]bool, len(d.Lines))
	for _, l := range d.Lines {
		switch {
		case l.SourceLineID == "" || len(l.SourceLineID) > maxDocumentIDLen:
			return fmt.Errorf("document %s: line id %q must be 1..%d characters", d.ID, l.SourceLineID, maxDocumentIDLen)
		case seen[l.SourceLineID]:
			return fmt.Errorf("document %s: line %s appears more than once", d.ID, l.SourceLineID)
		case l.Quantity <= 0:
			return fmt.Errorf("document %s line %s: quantity %d must be positive", d.ID, l.SourceLineID, l.Quantity)
		case l.AmountMinor < 0 || l.TaxMinor < 0 || l.UnitPriceMinor < 0:
			return fmt.Errorf("document %s line %s: negative amount", d.ID, l.SourceLineID)
		}
		seen[l.SourceLineID] = true
	}
	if _, _, err := d.TotalMinor(); err != nil {
		return fmt.Errorf("document %s: %w", d.ID, err)
	}
	return nil
}

// DocumentReader reads stored documents; the order.Store implementations
// provide it next to Store (sqlstore.Store does).
type DocumentReader interface {
	// GetDocument returns a document with its lines in their order;
	// ErrDocumentNotFound (wrapped) for an unknown id.
	GetDocument(ctx context.Context, id string) (Document, error)
	// ListDocuments returns the documents of an order, oldest first.
	ListDocuments(ctx context.Context, orderID string) ([]Document, error)
}
