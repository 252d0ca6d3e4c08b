// Package erp is the simulated ERP behind erpsim: its master data
// (customers, products, price lists, warehouses, stock), the sales orders
// and journal postings Transload sends it, and the business rules it applies
// to them (credit, account state, known SKUs, idempotency on natural keys).
//
// It knows nothing about gRPC, protobuf or SQL: grpcapi translates the
// erp.v1 contract to the Service below, and a Store keeps the state.
package erp

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Currency is the only currency the demo ERP books in.
const Currency = "EUR"

// Domain errors. grpcapi/errors.go maps each to a gRPC status.
var (
	// ErrCustomerNotFound: the customer id is unknown.
	ErrCustomerNotFound = errors.New("customer not found")
	// ErrSalesOrderNotFound: no sales order was submitted under the order id.
	ErrSalesOrderNotFound = errors.New("sales order not found")
	// ErrNotCancellable: the sales order is completed and cannot be cancelled.
	ErrNotCancellable = errors.New("sales order not cancellable")
	// ErrWarehouseNotFound: the warehouse code is unknown.
	ErrWarehouseNotFound = errors.New("warehouse not found")
	// ErrPriceListNotFound: the price list id is unknown.
	ErrPriceListNotFound = errors.New("price list not found")
	// ErrJournalBatchNotFound: no journal batch was posted under the id.
	ErrJournalBatchNotFound = errors.New("journal batch not found")
	// ErrIdempotencyKeyReused: the natural key was used before with a
	// different payload.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different payload")
	// ErrInvalidCursor: a stock event cursor this ERP did not produce.
	ErrInvalidCursor = errors.New("invalid cursor")
	// ErrInvalidStockEvent: a stock event that breaks the movement rules
	// (wrong sign, negative resulting on-hand, unknown SKU or warehouse).
	ErrInvalidStockEvent = errors.New("invalid stock event")
)

// NotFoundError carries the id that was not found next to the sentinel it
// wraps (ErrCustomerNotFound, ...), for the error metadata.
type NotFoundError struct {
	Kind error
	ID   string
}

// Error says what was not found.
func (e *NotFoundError) Error() string { return fmt.Sprintf("%v: %s", e.Kind, e.ID) }

// Unwrap returns the sentinel.
func (e *NotFoundError) Unwrap() error { return e.Kind }

// NotCancellableError is ErrNotCancellable with the order's identity.
type NotCancellableError struct {
	OrderID        string
	ERPOrderNumber string
	State          OrderState
}

// Error says which order cannot be cancelled.
func (e *NotCancellableError) Error() string {
	return fmt.Sprintf("sales order %s is %s and cannot be cancelled", e.OrderID, e.State)
}

// Unwrap returns ErrNotCancellable.
func (e *NotCancellableError) Unwrap() error { return ErrNotCancellable }

// Money is an amount in minor units of Currency.
type Money struct {
	Minor    int64
	Currency string
}

// AccountState is whether a customer may order.
type AccountState int

// Account states.
const (
	AccountActive AccountState = iota + 1
	AccountCreditHold
	AccountBlocked
	AccountClosed
)

// String names the state.
func (s AccountState) String() string {
	switch s {
	case AccountActive:
		return "ACTIVE"
	case AccountCreditHold:
		return "CREDIT_HOLD"
	case AccountBlocked:
		return "BLOCKED"
	case AccountClosed:
		return "CLOSED"
	}
	return fmt.Sprintf("AccountState(%d)", int(s))
}

// Address is a postal address.
type Address struct {
	Recipient  string   `json:"recipient,omitempty"`
	Lines      []string `json:"lines,omitempty"`
	Locality   string   `json:"locality,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	RegionCode string   `json:"regionCode,omitempty"`
}

// ShipTo is a registered delivery address of a customer.
type ShipTo struct {
	ID        string  `json:"id"`
	Address   Address `json:"address"`
	IsDefault bool    `json:"isDefault,omitempty"`
}

// Customer is an ERP customer account with its credit position.
type Customer struct {
	ID                 string
	DisplayName        string
	State              AccountState
	CreditLimitMinor   int64 // 0 with HasCreditLimit false: no limit
	HasCreditLimit     bool
	OpenBalanceMinor   int64
	Currency           string
	PaymentTermsCode   string
	PaymentTermsDesc   string
	PaymentNetDays     int
	PrepaymentRequired bool
	AllowedChannels    []string
	PriceListIDs       []string
	BillTo             Address
	ShipTos            []ShipTo
	UpdateTime         time.Time
}

// AvailableCredit is the credit limit minus the open balance, floored at 0;
// ok is false when the customer has no limit.
func (c Customer) AvailableCredit() (minor int64, ok bool) {
	if !c.HasCreditLimit {
		return 0, false
	}
	return max(0, c.CreditLimitMinor-c.OpenBalanceMinor), true
}

// AllowsChannel reports whether the customer may order through channel.
func (c Customer) AllowsChannel(channel string) bool {
	if len(c.AllowedChannels) == 0 {
		return true
	}
	for _, ch := range c.AllowedChannels {
		if ch == channel {
			return true
		}
	}
	return false
}

// SalesState is a product's sales status.
type SalesState int

// Sales states.
const (
	SalesActive SalesState = iota + 1
	SalesInactive
	SalesDiscontinued
)

// Attribute is one product attribute.
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// Product is an item of the material master.
type Product struct {
	SKU         string
	Title       string
	Description string
	Attributes  []Attribute
	UoM         string
	SalesState  SalesState
	Channels    []string
	Category    string
	GTIN        string
	UpdateTime  time.Time
}

// PriceList is a price list header.
type PriceList struct {
	ID          string
	DisplayName string
	Currency    string
	Channels    []string
}

// ListPrice is the price of a SKU on a price list.
type ListPrice struct {
	PriceListID    string
	SKU            string
	UoM            string
	UnitPriceMinor int64
}

// Warehouse is a stocking location.
type Warehouse struct {
	Code        string
	DisplayName string
	Region      string
	Address     Address
	Priority    int
	Channels    []string
	Active      bool
}

// StockRow is the on-hand stock of a SKU in a warehouse.
type StockRow struct {
	SKU            string
	WarehouseCode  string
	OnHand         int64
	UoM            string
	SourceSequence int64
}

// StockEventKind is the kind of a stock movement.
type StockEventKind int

// Stock event kinds (see erp.v1 StockEvent.Kind).
const (
	StockReceipt StockEventKind = iota + 1
	StockAdjustment
	StockTransferIn
	StockTransferOut
	StockShipment
	StockSetOnHand
)

// StockEvent is one recorded stock movement.
type StockEvent struct {
	// Seq is the event's position in the feed (1, 2, ...), what cursors
	// point at.
	Seq            int64
	EventID        string
	SKU            string
	WarehouseCode  string
	Kind           StockEventKind
	Quantity       int64
	UoM            string
	SourceSequence int64
	OccurTime      time.Time
	Reference      string
	ReasonCode     string
	Counterpart    string
}

// OrderState is the ERP lifecycle of a sales order.
type OrderState int

// Sales order states.
const (
	OrderAccepted OrderState = iota + 1
	OrderRejected
	OrderCancelled
	OrderCompleted
)

// String names the state as in the erp.v1 SalesOrder.State value names.
func (s OrderState) String() string {
	switch s {
	case OrderAccepted:
		return "STATE_ACCEPTED"
	case OrderRejected:
		return "STATE_REJECTED"
	case OrderCancelled:
		return "STATE_CANCELLED"
	case OrderCompleted:
		return "STATE_COMPLETED"
	}
	return fmt.Sprintf("OrderState(%d)", int(s))
}

// RejectionReason says why a sales order was rejected.
type RejectionReason int

// Rejection reasons (see erp.v1 SalesOrderRejectionReason).
const (
	RejectNone RejectionReason = iota
	RejectCreditHold
	RejectCreditLimit
	RejectUnknownCustomer
	RejectUnknownSKU
	RejectPriceMismatch
	RejectBlockedItem
	RejectOther
)

var rejectionNames = map[RejectionReason]string{
	RejectCreditHold:      "CREDIT_HOLD",
	RejectCreditLimit:     "CREDIT_LIMIT",
	RejectUnknownCustomer: "UNKNOWN_CUSTOMER",
	RejectUnknownSKU:      "UNKNOWN_SKU",
	RejectPriceMismatch:   "PRICE_MISMATCH",
	RejectBlockedItem:     "BLOCKED_ITEM",
	RejectOther:           "OTHER",
}

// String is the short name, e.g. "CREDIT_LIMIT".
func (r RejectionReason) String() string {
	if n, ok := rejectionNames[r]; ok {
		return n
	}
	return "NONE"
}

// ParseRejectionReason parses a short name ("CREDIT_LIMIT") or the full
// erp.v1 value name ("SALES_ORDER_REJECTION_REASON_CREDIT_LIMIT").
func ParseRejectionReason(s string) (RejectionReason, error) {
	const prefix = "SALES_ORDER_REJECTION_REASON_"
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		s = s[len(prefix):]
	}
	for r, n := range rejectionNames {
		if n == s {
			return r, nil
		}
	}
	return RejectNone, fmt.Errorf("unknown rejection reason %q", s)
}

// OrderLine is the part of a submitted order line the ERP checks.
type OrderLine struct {
	LineID   string
	SKU      string
	Quantity int64
}

// SalesOrder is a submitted sales order as the ERP recorded it.
type SalesOrder struct {
	OrderID         string
	CustomerID      string
	Channel         string
	Currency        string
	GrandTotalMinor int64
	Lines           []OrderLine
	// Payload is the submission as received (opaque to the domain; grpcapi
	// stores the canonical proto encoding) and Fingerprint its hash, which
	// detects key reuse with a different payload.
	Payload          []byte
	Fingerprint      string
	State            OrderState
	ERPOrderNumber   string
	RejectionReason  RejectionReason
	RejectionMessage string
	// Submissions counts SubmitSalesOrder calls for the order id that
	// reached the ERP, the first included.
	Submissions int
	CreateTime  time.Time
	UpdateTime  time.Time
}

// Decision is the outcome the ERP decides for a new sales order.
type Decision struct {
	Accepted bool
	Reason   RejectionReason
	Message  string
}

// DecisionInput is what the ERP looks at to decide a new sales order, read
// inside the transaction that records it.
type DecisionInput struct {
	// Customer is nil when the customer id is unknown.
	Customer *Customer
	// Products holds the known products among the order's SKUs.
	Products map[string]Product
}

// JournalKind is the kind of documents a journal batch posts.
type JournalKind int

// Journal kinds.
const (
	JournalInvoice JournalKind = iota + 1
	JournalCreditMemo
)

// JournalOutcome is what happened to a journal line.
type JournalOutcome int

// Journal line outcomes.
const (
	LinePosted JournalOutcome = iota + 1
	LineRejected
	LineDuplicate
)

// JournalRejection says why a journal line was rejected (see erp.v1
// JournalLineRejectionReason).
type JournalRejection int

// Journal line rejection reasons.
const (
	JournalRejectNone JournalRejection = iota
	JournalRejectUnknownAccount
	JournalRejectPeriodClosed
	JournalRejectUnknownCustomer
	JournalRejectUnknownOrder
	JournalRejectInvalidAmount
	JournalRejectDocumentRejected
	JournalRejectOther
)

// JournalLine is the part of a journal line the ERP checks.
type JournalLine struct {
	LineID      string
	DocumentID  string
	OrderID     string
	CustomerID  string
	LineHash    string
	AmountMinor int64
	TaxMinor    int64
	Currency    string
	TaxCurrency string
	Account     string
}

// JournalLineResult is the ERP's outcome for one line.
type JournalLineResult struct {
	LineID            string
	Outcome           JournalOutcome
	Rejection         JournalRejection
	RejectionMessage  string
	ERPDocumentNumber string
}

// JournalBatch is a posted batch with its results, in line order.
type JournalBatch struct {
	BatchID     string
	Kind        JournalKind
	Lines       []JournalLine
	Payload     []byte
	Fingerprint string
	Results     []JournalLineResult
	CreateTime  time.Time
}

// Counts returns how many results are posted, rejected and duplicate.
func (b JournalBatch) Counts() (posted, rejected, duplicate int) {
	for _, r := range b.Results {
		switch r.Outcome {
		case LinePosted:
			posted++
		case LineRejected:
			rejected++
		case LineDuplicate:
			duplicate++
		}
	}
	return posted, rejected, duplicate
}

// JournalLookup answers the questions the posting rules ask, inside the
// posting transaction.
type JournalLookup interface {
	// CustomerExists reports whether the customer is known.
	CustomerExists(ctx context.Context, id string) (bool, error)
	// AcceptedOrderCurrency returns the currency of the order's sales order
	// and true when it exists and was not rejected.
	AcceptedOrderCurrency(ctx context.Context, orderID string) (string, bool, error)
	// PostedLine returns the ERP document number of a line hash that is
	// already posted, and true when it is.
	PostedLine(ctx context.Context, lineHash string) (string, bool, error)
	// NextDocumentNumber allocates a new ERP accounting document number.
	NextDocumentNumber(ctx context.Context) (string, error)
}

// CustomerCursor is where a customer listing resumes: after the customer
// with this update time and id, in (update time, id) order. The zero
// cursor is the start of the listing.
type CustomerCursor struct {
	UpdateTime time.Time
	ID         string
}

// IsZero reports whether c is the start of the listing.
func (c CustomerCursor) IsZero() bool { return c.ID == "" && c.UpdateTime.IsZero() }

// Seed is the complete demo master data loaded into a fresh ERP.
type Seed struct {
	Customers  []Customer
	Products   []Product
	PriceLists []PriceList
	ListPrices []ListPrice
	Warehouses []Warehouse
	Stock      []StockRow
	// Contracts are seeded once even into a store seeded before the ERP
	// kept contracts (contracts.go).
	Contracts []Contract
}

// StockFilter restricts a stock snapshot; empty slices mean all.
type StockFilter struct {
	Warehouses []string
	SKUs       []string
}

// Snapshot is a consistent read of stock at one feed position.
type Snapshot struct {
	// ID identifies the snapshot for resuming (set by the Service).
	ID string
	// FeedSeq is the Seq of the last stock event included (0 for none).
	FeedSeq int64
	AsOf    time.Time
	Rows    []StockRow
}

// Store keeps the ERP's state. Implementations are safe for concurrent use.
type Store interface {
	// Seed loads seed once: it returns false without changing anything when
	// the store was seeded before.
	Seed(ctx context.Context, seed Seed, now time.Time) (bool, error)
	// Seeded reports whether Seed has run.
	Seeded(ctx context.Context) (bool, error)

	// Customer returns a customer; *NotFoundError{ErrCustomerNotFound}.
	Customer(ctx context.Context, id string) (Customer, error)
	// Customers lists up to limit customers with update_time >= minUpdate
	// (zero: all) after the cursor, by (update_time, id).
	Customers(ctx context.Context, minUpdate time.Time, after CustomerCursor, limit int) ([]Customer, error)

	// SubmitSalesOrder records order unless a sales order with its id
	// exists. For a new order it calls decide (possibly more than once, on
	// transaction retries) inside the transaction; an accepted order gets an
	// ERP order number and adds its grand total to the customer's open
	// balance. For an existing order it counts the submission and returns
	// the stored order with duplicate = true, or ErrIdempotencyKeyReused
	// when the fingerprint differs.
	SubmitSalesOrder(ctx context.Context, order SalesOrder, now time.Time, decide func(DecisionInput) Decision) (SalesOrder, bool, error)
	// SalesOrder returns a sales order; *NotFoundError{ErrSalesOrderNotFound}.
	SalesOrder(ctx context.Context, orderID string) (SalesOrder, error)
	// CancelSalesOrder cancels an accepted order (releasing its credit) and
	// returns it; cancelled and rejected orders are returned unchanged;
	// *NotCancellableError for completed ones.
	CancelSalesOrder(ctx context.Context, orderID, reason string, now time.Time) (SalesOrder, error)
	// SalesOrders lists every sales order by creation.
	SalesOrders(ctx context.Context) ([]SalesOrder, error)

	// Warehouses lists warehouses by priority, then code.
	Warehouses(ctx context.Context) ([]Warehouse, error)
	// StockSnapshot reads the filtered stock rows (by sku, warehouse) and
	// the feed position in one consistent read.
	StockSnapshot(ctx context.Context, f StockFilter) (Snapshot, error)
	// StockEvents returns up to limit events with Seq > after, by Seq, and
	// the highest Seq in the feed.
	StockEvents(ctx context.Context, after int64, limit int) ([]StockEvent, int64, error)
	// RecordStockEvent applies ev to the stock row and appends it to the
	// feed, assigning Seq, EventID and SourceSequence;
	// ErrInvalidStockEvent when the movement is not possible.
	RecordStockEvent(ctx context.Context, ev StockEvent) (StockEvent, error)

	// Products returns the products updated at or after minUpdate (zero:
	// all) and sellable in channel ("" any), by SKU.
	Products(ctx context.Context, minUpdate time.Time, channel string) ([]Product, error)
	// PriceLists returns the given price lists (empty: all) by id;
	// *NotFoundError{ErrPriceListNotFound} for an unknown id.
	PriceLists(ctx context.Context, ids []string) ([]PriceList, error)
	// ListPrices returns the list prices of the given price lists, by price
	// list then SKU.
	ListPrices(ctx context.Context, priceListIDs []string) ([]ListPrice, error)

	// The price change feed (prices.go).
	PriceStore

	// PostJournalBatch posts batch unless its id was posted before: post is
	// called inside the transaction (possibly more than once) to decide the
	// per-line results; an existing batch is returned with duplicate = true,
	// or ErrIdempotencyKeyReused when the fingerprint differs.
	PostJournalBatch(ctx context.Context, batch JournalBatch, now time.Time, post func(context.Context, JournalLookup) ([]JournalLineResult, error)) (JournalBatch, bool, error)
	// JournalBatch returns a posted batch;
	// *NotFoundError{ErrJournalBatchNotFound}.
	JournalBatch(ctx context.Context, batchID string) (JournalBatch, error)
}
