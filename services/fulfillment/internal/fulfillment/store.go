package fulfillment

import (
	"context"
	"time"
)

// Store persists the service's state: fulfilment requests, shipments,
// the WMS events seen with their outcomes, the WMS feed cursors, the
// cancellations and the queue of outbound side effects. It is safe for
// concurrent use. Methods outside InTx read committed data; errors not
// named are the database's, wrapped with what was being done.
type Store interface {
	// InTx runs fn in a read-write transaction and commits it when fn
	// returns nil; fn's error rolls it back and is returned. fn may run
	// more than once (a transaction the database aborted is retried), so
	// it must not have effects outside tx.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// GetRequest returns a request; ErrRequestNotFound when absent.
	GetRequest(ctx context.Context, id string) (*Request, error)
	// ListRequests returns up to q.Limit requests q selects, in create
	// time order (then id), after q's cursor.
	ListRequests(ctx context.Context, q RequestQuery) ([]*Request, error)
	// DueRequests returns up to limit requests waiting for delivery to
	// the WMS (PENDING or SENT_TO_WMS) whose next attempt is due at now,
	// the longest due first.
	DueRequests(ctx context.Context, now time.Time, limit int) ([]*Request, error)
	// GetShipment returns a shipment; ErrShipmentNotFound when absent.
	GetShipment(ctx context.Context, id string) (*Shipment, error)
	// ListShipments returns up to q.Limit shipments q selects, in create
	// or update time order (then id), after q's cursor.
	ListShipments(ctx context.Context, q ShipmentQuery) ([]*Shipment, error)
	// Cursor returns the stored feed cursor of source ("" when none).
	Cursor(ctx context.Context, source string) (string, error)
	// GetReturnReceipt returns a return receipt, with the state of its
	// hand-over to the order service; ErrReturnReceiptNotFound when
	// absent.
	GetReturnReceipt(ctx context.Context, id string) (*ReturnReceipt, error)
	// ListReturnReceipts returns up to q.Limit receipts q selects, in
	// receive time order (then id), after q's cursor.
	ListReturnReceipts(ctx context.Context, q ReturnReceiptQuery) ([]*ReturnReceipt, error)
	// RejectedWMSEvents lists the rejected WMS events (the exception
	// desk's view), oldest first, at most limit; without payloads.
	RejectedWMSEvents(ctx context.Context, limit int) ([]WMSEventRecord, error)
	// PendingEffects returns up to limit effects not yet done, in queue
	// order. Effects whose next attempt is in the future are included so
	// the caller can keep one order's effects in sequence.
	PendingEffects(ctx context.Context, limit int) ([]Effect, error)
	// CountEffects returns how many effects are in state.
	CountEffects(ctx context.Context, state EffectState) (int, error)
	// FinishEffects marks each effect of results done (Failure "") or
	// permanently failed with its Failure, counting the attempt, all in one
	// transaction.
	FinishEffects(ctx context.Context, results []EffectResult, now time.Time) error
	// RetryEffect records a failed attempt of effect id and when to try
	// again.
	RetryEffect(ctx context.Context, id int64, failure string, next time.Time) error
}

// Tx is a read-write transaction of the Store (see Store.InTx). Reads lock
// the rows they return until the transaction ends where the engine has row
// locks (PostgreSQL); SQLite runs one writer at a time.
type Tx interface {
	// InsertExpectedReturn records er (the expected return the WMS is
	// told about) unless one with its id exists; created reports which.
	InsertExpectedReturn(ctx context.Context, er ExpectedReturn) (created bool, err error)
	// ExpectedReturn returns the expected return recorded under id and
	// whether there is one.
	ExpectedReturn(ctx context.Context, id string) (ExpectedReturn, bool, error)
	// ExpectedReturnsOf returns the expected returns of return
	// authorization rmaID, by id.
	ExpectedReturnsOf(ctx context.Context, rmaID string) ([]ExpectedReturn, error)
	// CancelExpectedReturn marks expected return id cancelled at at unless
	// it already is; changed reports whether it was.
	CancelExpectedReturn(ctx context.Context, id string, at time.Time) (changed bool, err error)
	// InsertReturnReceipt records rr; a second receipt with its id or its
	// (source, WMS event id) violates a unique key.
	InsertReturnReceipt(ctx context.Context, rr *ReturnReceipt) error
	// ReturnReceiptsOf returns the receipts recorded against expected
	// return expectedReturnID of order orderID.
	ReturnReceiptsOf(ctx context.Context, orderID, expectedReturnID string) ([]*ReturnReceipt, error)
	// NextRestockSequence returns the next sequence (1, 2, ...) of
	// fulfilment's restock stock events for sku in warehouse, locking it
	// until the transaction ends.
	NextRestockSequence(ctx context.Context, sku, warehouseID string) (int64, error)
	// InsertRequest creates r unless a request with its id exists;
	// created reports which, and a created r gets Version 1.
	InsertRequest(ctx context.Context, r *Request) (created bool, err error)
	// GetRequest reads and locks a request; ErrRequestNotFound when
	// absent.
	GetRequest(ctx context.Context, id string) (*Request, error)
	// UpdateRequest writes r if its Version is still the stored one and
	// increments r.Version; ErrConflict otherwise.
	UpdateRequest(ctx context.Context, r *Request) error
	// OrderRequests reads and locks every request of an order, oldest
	// first.
	OrderRequests(ctx context.Context, orderID string) ([]*Request, error)
	// RequestHasShipments reports whether any shipment was recorded for
	// the request (something was picked, packed or shipped).
	RequestHasShipments(ctx context.Context, requestID string) (bool, error)
	// FindShipment reads and locks the shipment of request requestID with
	// WMS reference ref ("" for the one not packed yet);
	// ErrShipmentNotFound when there is none.
	FindShipment(ctx context.Context, requestID, ref string) (*Shipment, error)
	// LatestShipment reads and locks the most recently created shipment
	// of a request; ErrShipmentNotFound when there is none.
	LatestShipment(ctx context.Context, requestID string) (*Shipment, error)
	// InsertShipment creates s with Version 1. A second shipment of the
	// request with the same WMS reference (or a second unpacked one)
	// violates a unique key.
	InsertShipment(ctx context.Context, s *Shipment) error
	// UpdateShipment writes s if its Version is still the stored one and
	// increments s.Version; ErrConflict otherwise.
	UpdateShipment(ctx context.Context, s *Shipment) error
	// LookupWMSEvent returns the recorded event (source, eventID) and
	// whether there is one.
	LookupWMSEvent(ctx context.Context, source, eventID string) (WMSEventRecord, bool, error)
	// RecordWMSEvent records a WMS event with its outcome; recording
	// (source, event id) twice violates a unique key.
	RecordWMSEvent(ctx context.Context, ev WMSEventRecord) error
	// Cursor returns the stored feed cursor of source ("" when none).
	Cursor(ctx context.Context, source string) (string, error)
	// SetCursor stores the feed cursor of source.
	SetCursor(ctx context.Context, source, cursor string, now time.Time) error
	// EnqueueEffect queues e; an effect with the same kind and key is
	// queued once (created reports whether this call queued it).
	// ErrInvalidArgument for an effect without its call.
	EnqueueEffect(ctx context.Context, e Effect) (created bool, err error)
	// DropPendingEffect deletes the effect of kind and key while it is
	// still PENDING (queued and never executed); dropped reports whether
	// there was one.
	DropPendingEffect(ctx context.Context, kind EffectKind, key string) (dropped bool, err error)
	// Cancellation returns the cancellation recorded under requestID and
	// whether there is one.
	Cancellation(ctx context.Context, requestID string) (Cancellation, bool, error)
	// RecordCancellation stores a cancellation.
	RecordCancellation(ctx context.Context, c Cancellation) error
	// OrderCancelled reports whether the fulfilment of the order was
	// cancelled.
	OrderCancelled(ctx context.Context, orderID string) (bool, error)
	// WriteEvent writes ev to the outbox, with the exception or audit
	// record it carries (see Event), to be published once the transaction
	// commits. ErrInvalidArgument for an event without its resource.
	WriteEvent(ctx context.Context, ev Event) error
	// WriteEvents is WriteEvent for several events, in order, in one
	// outbox batch (two statements instead of two per event).
	WriteEvents(ctx context.Context, evs []Event) error
}

// Page is the keyset position and size of a list: the rows after
// (AfterTime, AfterID) in the list's order, at most Limit of them.
type Page struct {
	// Limit is the most rows to return.
	Limit int
	// AfterTime and AfterID are the sort key and id of the last row of
	// the previous page; AfterID is empty on the first page.
	AfterTime time.Time
	AfterID   string
	// Desc lists newest first.
	Desc bool
}

// RequestQuery selects fulfilment requests for listing, in create time
// order.
type RequestQuery struct {
	Page
	// OrderID restricts to one order; empty means all orders.
	OrderID     string
	State       RequestState
	WarehouseID string
	CustomerID  string
	// CreatedFrom and CreatedBefore bound create_time (zero: unbounded).
	CreatedFrom   time.Time
	CreatedBefore time.Time
}

// ShipmentQuery selects shipments for listing, in create time order (or
// update time order).
type ShipmentQuery struct {
	Page
	// OrderID restricts to one order; empty means all orders.
	OrderID        string
	State          ShipmentState
	WarehouseID    string
	CustomerID     string
	RequestID      string
	TrackingNumber string
	// UpdatedFrom and UpdatedBefore bound update_time (zero: unbounded).
	UpdatedFrom   time.Time
	UpdatedBefore time.Time
	// ByUpdateTime orders by update_time instead of create_time (and
	// Page.AfterTime is an update time).
	ByUpdateTime bool
}

// WMSEventRecord is a WMS event as recorded: its identity and fingerprint
// (de-duplication), its outcome and, for the exception desk, why it was
// rejected and what it said.
type WMSEventRecord struct {
	Source      string
	EventID     string
	Fingerprint string
	RequestID   string
	// Outcome is WMSEventApplied or WMSEventRejected (a duplicate is not
	// recorded again).
	Outcome WMSEventOutcome
	// Reason and Detail say why a rejected event was refused.
	Reason     string
	Detail     string
	Payload    []byte
	RecordTime time.Time
}

// Cancellation is a recorded CancelFulfillment call.
type Cancellation struct {
	// RequestID is the call's idempotency key.
	RequestID string
	OrderID   string
	// Fingerprint digests the call's payload.
	Fingerprint string
	Reason      string
	CreateTime  time.Time
}

// EffectState is where an effect is in the queue.
type EffectState string

// Effect states.
const (
	EffectPending EffectState = "PENDING"
	EffectDone    EffectState = "DONE"
	EffectFailed  EffectState = "FAILED"
)

// EffectKind names a side effect driven from the durable effects queue.
type EffectKind string

// Effect kinds.
const (
	// EffectCommitReservation commits the shipped quantities in inventory.
	EffectCommitReservation EffectKind = "inventory.commit_reservation"
	// EffectRecordShipmentProgress tells the order service a shipment
	// shipped or was delivered.
	EffectRecordShipmentProgress EffectKind = "order.record_shipment_progress"
	// EffectRegisterExpectedReturn announces an authorized return to the
	// WMS (wms.v1 RegisterExpectedReturn).
	EffectRegisterExpectedReturn EffectKind = "wms.register_expected_return"
	// EffectRestock puts restocked returned units back into sellable
	// stock (inventory.v1 ApplyStockEvents, RETURN_RESTOCK). All restocks
	// run in one lane, in queue order, which is the order of their
	// (SKU, warehouse) sequences.
	EffectRestock EffectKind = "inventory.return_restock"
	// EffectRecordReturnReceipt tells the order service goods came back
	// against a return authorization (order.v1 RecordReturnReceipt).
	EffectRecordReturnReceipt EffectKind = "order.record_return_receipt"
)

// Effect is an outbound call recorded in the same transaction as the
// change that requires it and executed (with retries) afterwards. Exactly
// one of Commit, Progress, Return, Restock and Receipt is set, as Kind
// says.
type Effect struct {
	ID      int64
	Kind    EffectKind
	OrderID string
	// Key identifies the effect (the idempotency key of the call).
	Key string
	// Commit is the call of an EffectCommitReservation.
	Commit *Commit
	// Progress is the call of an EffectRecordShipmentProgress.
	Progress *Progress
	// Return is the expected return of an EffectRegisterExpectedReturn.
	Return *ExpectedReturn
	// Restock is the call of an EffectRestock.
	Restock *Restock
	// Receipt is the call of an EffectRecordReturnReceipt.
	Receipt *ReceiptReport
	// Unreadable is set by the store, instead of the call, when the
	// stored call cannot be read back (an unknown kind or payload): the
	// runner parks such an effect as failed rather than retrying it.
	Unreadable    error
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreateTime    time.Time
}

// EffectResult is the outcome of an executed effect: done when Failure is
// empty, else permanently failed with it.
type EffectResult struct {
	ID      int64
	Failure string
}

// CommitEffect returns the effect that commits c for order orderID, due at
// now; it is keyed by the shipment, which is committed once.
func CommitEffect(orderID string, c Commit, now time.Time) Effect {
	return Effect{Kind: EffectCommitReservation, OrderID: orderID, Key: c.ShipmentID, Commit: &c, NextAttemptAt: now, CreateTime: now}
}

// ProgressEffect returns the effect that reports p, due at now; it is
// keyed by the report's event id.
func ProgressEffect(p Progress, now time.Time) Effect {
	return Effect{Kind: EffectRecordShipmentProgress, OrderID: p.OrderID, Key: p.EventID, Progress: &p, NextAttemptAt: now, CreateTime: now}
}
