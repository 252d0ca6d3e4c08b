package wms

import (
	"fmt"
	"time"

	"github.com/transload/transload/platform/fingerprint"
)

// ReturnState is the lifecycle state of an expected return, named like the
// contract's ExpectedReturn.State values without the prefix.
type ReturnState string

// Expected return states.
const (
	ReturnExpected          ReturnState = "EXPECTED"
	ReturnRejected          ReturnState = "REJECTED"
	ReturnCancelled         ReturnState = "CANCELLED"
	ReturnPartiallyReceived ReturnState = "PARTIALLY_RECEIVED"
	ReturnReceived          ReturnState = "RECEIVED"
)

// ReturnLine is one line of an expected return as the caller sent it.
type ReturnLine struct {
	LineID       string `json:"lineId"`
	SKU          string `json:"sku"`
	Quantity     int64  `json:"quantity"`
	ReturnReason string `json:"returnReason,omitempty"`
}

// ReturnNotice is the caller's payload of an expected return: everything
// RegisterExpectedReturn sends except output-only fields.
type ReturnNotice struct {
	OrderID        string       `json:"orderId"`
	Warehouse      string       `json:"warehouse"`
	Lines          []ReturnLine `json:"lines"`
	ExpectedBy     Date         `json:"expectedBy,omitzero"`
	TrackingNumber string       `json:"trackingNumber,omitempty"`
}

// Fingerprint is a stable hash of the notice payload.
func (n ReturnNotice) Fingerprint() string { return fingerprint.Of(n) }

// ExpectedReturn is an expected customer return as the simulated WMS holds
// it.
type ExpectedReturn struct {
	// ID is the Transload return authorization id (the idempotency key).
	ID string `json:"id"`
	// Number is the WMS's sequential inbound number, assigned by the Store.
	Number      int64        `json:"number"`
	Notice      ReturnNotice `json:"notice"`
	Fingerprint string       `json:"fingerprint"`
	State       ReturnState  `json:"state"`
	// Received holds the units received so far per line id.
	Received         map[string]int64 `json:"received,omitempty"`
	RejectionReason  RejectionReason  `json:"rejectionReason,omitempty"`
	RejectionMessage string           `json:"rejectionMessage,omitempty"`
	CancelReason     string           `json:"cancelReason,omitempty"`
	EventCount       int64            `json:"eventCount"`
	Submissions      int64            `json:"submissions"`
	// ReceiveAt is when the simulated warehouse receives everything still
	// outstanding on its own (NEW, RESTOCK); zero when it waits for the
	// control API. Any receipt clears it.
	ReceiveAt  time.Time `json:"receiveAt,omitzero"`
	CreateTime time.Time `json:"createTime"`
	UpdateTime time.Time `json:"updateTime"`
}

// WMSReference is the WMS's inbound (ASN) number, "" when rejected.
func (r *ExpectedReturn) WMSReference() string {
	if r.State == ReturnRejected {
		return ""
	}
	return fmt.Sprintf("IB-%s-%07d", warehouseShortCode(r.Notice.Warehouse), r.Number)
}

// Condition is the condition of returned goods on inspection, named like
// the contract's ReturnCondition values without the prefix.
type Condition string

// Conditions the control API accepts.
const (
	ConditionNew       Condition = "NEW"
	ConditionOpened    Condition = "OPENED"
	ConditionUsed      Condition = "USED"
	ConditionDamaged   Condition = "DAMAGED"
	ConditionDefective Condition = "DEFECTIVE"
	ConditionWrongItem Condition = "WRONG_ITEM"
)

// Disposition is what the warehouse did with returned units, named like the
// contract's ReturnDisposition values without the prefix.
type Disposition string

// Dispositions.
const (
	DispositionRestock    Disposition = "RESTOCK"
	DispositionQuarantine Disposition = "QUARANTINE"
	DispositionScrap      Disposition = "SCRAP"
)

// ReceiptLine is one line of a simulated receipt.
type ReceiptLine struct {
	LineID      string      `json:"lineId"`
	SKU         string      `json:"sku"`
	Quantity    int64       `json:"quantity"`
	Condition   Condition   `json:"condition"`
	Disposition Disposition `json:"disposition"`
	Note        string      `json:"note,omitempty"`
}

// ReturnEvent is one receipt of returned goods in the return feed.
type ReturnEvent struct {
	// Position is the event's place in the feed, assigned by the Store.
	Position        int64         `json:"-"`
	EventID         string        `json:"eventId"`
	ExpectedReturn  string        `json:"expectedReturnId"`
	OrderID         string        `json:"orderId"`
	Warehouse       string        `json:"warehouse"`
	Sequence        int64         `json:"sequence"`
	Lines           []ReceiptLine `json:"lines"`
	WMSReference    string        `json:"wmsReference"`
	ReceiptComplete bool          `json:"receiptComplete"`
	OccurTime       time.Time     `json:"occurTime"`
}
