package inventory

import (
	"context"
	"time"
)

// Store persists warehouses, stock levels and reservations. Every method
// that changes stock runs in one database transaction together with the
// outbox events announcing the change, locks the stock rows it reads
// (PostgreSQL: SELECT ... FOR UPDATE ordered by SKU, then warehouse code;
// SQLite: the IMMEDIATE write transaction) and never lets reserved exceed
// on-hand.
type Store interface {
	// HasWarehouses reports whether any warehouse exists, i.e. whether the
	// initial load happened.
	HasWarehouses(ctx context.Context) (bool, error)
	// LoadInitial stores the warehouses and the snapshot's stock (and its
	// event cursor as the "erp" feed position) in one transaction,
	// emitting a StockChangedEvent per stock level, unless the store
	// already has warehouses; it reports whether it loaded.
	LoadInitial(ctx context.Context, ws []Warehouse, snap Snapshot, now time.Time) (bool, error)

	// ListWarehouses returns every warehouse ordered by priority, then code.
	ListWarehouses(ctx context.Context) ([]Warehouse, error)
	// GetWarehouse returns one warehouse or ErrWarehouseNotFound.
	GetWarehouse(ctx context.Context, code string) (Warehouse, error)
	// UpsertWarehouse locks warehouse code (if it exists), passes it to fn
	// and stores fn's result, idempotent on requestID: a replay with the
	// same fingerprint returns the current warehouse without calling fn,
	// another fingerprint fails with ErrIdempotencyKeyReused. fn's error is
	// returned unchanged.
	UpsertWarehouse(ctx context.Context, code, requestID, fingerprint string, fn WarehouseUpdateFunc) (Warehouse, error)
	// GetStockLevel returns one stock level or ErrStockLevelNotFound.
	GetStockLevel(ctx context.Context, sku, warehouseCode string) (StockLevel, error)
	// ListStockLevels returns a page of stock levels ordered by SKU, then
	// warehouse code.
	ListStockLevels(ctx context.Context, q StockLevelQuery) ([]StockLevel, error)
	// StockLevelsForSKUs returns every stock level of the given SKUs.
	StockLevelsForSKUs(ctx context.Context, skus []string) ([]StockLevel, error)

	// Reserve creates a reservation for p, idempotent on p.RequestID: an
	// existing reservation with the same request id and fingerprint is
	// returned with created false; a different fingerprint fails with
	// ErrIdempotencyKeyReused. An open reservation of the same reference
	// fails with *ReservationExistsForReferenceError unless it is a hold
	// past its expiry, which is expired first. build receives every
	// warehouse and the locked stock levels of p's SKUs and returns the new
	// reservation and the movements to apply; its error is returned
	// unchanged and nothing is written. A created reservation is audited
	// ("reservation.create" by p.Actor) in its transaction.
	Reserve(ctx context.Context, p ReserveParams, now time.Time, build BuildFunc) (r Reservation, created bool, err error)
	// GetReservation returns one reservation or ErrReservationNotFound.
	GetReservation(ctx context.Context, id string) (Reservation, error)
	// UpdateReservation locks reservation id and applies fn to it. When
	// op.RequestID was already used for op.Kind on this reservation (or
	// op.ShipmentID already committed), fn is not called and the current
	// reservation is returned; a request id used with another fingerprint
	// or reservation fails with ErrIdempotencyKeyReused. fn's movements
	// are applied to the locked stock levels and its changes saved with
	// their events. fn's error is returned unchanged and nothing is
	// written. Unknown ids fail with ErrReservationNotFound. A change is
	// audited (see Operation.Actor) in its transaction, and so is every
	// backorder it lets another reservation take
	// ("reservation.allocate_backorder").
	UpdateReservation(ctx context.Context, id string, op Operation, now time.Time, fn UpdateFunc) (Reservation, error)
	// ListReservations returns a page of reservations ordered by create
	// time, then id, newest first.
	ListReservations(ctx context.Context, q ReservationQuery) ([]Reservation, error)
	// ApplyStockEvents applies p's events in request order in one
	// transaction, idempotent on p.RequestID (same payload → the stored
	// results; another payload → ErrIdempotencyKeyReused). Per (source
	// system, SKU, warehouse) an event is APPLIED when its sequence is the
	// last applied + 1 or the first seen for the pair (then any buffered
	// successors are applied), DUPLICATE when its (source, event id) was
	// seen, OUT_OF_ORDER_BUFFERED when it is ahead, REJECTED when p.Invalid
	// names it, its warehouse is unknown or its sequence is stale. A SHIPMENT
	// naming a reservation and shipment commits the reservation like
	// CommitReservation (once per shipment); if the reservation cannot take
	// it, it decrements on-hand like a plain SHIPMENT. Decrements below
	// zero set on-hand to 0 and emit a VarianceDetectedEvent. Every stock
	// level the call changed is audited once ("stock_level.apply" by
	// p.Actor, before and after the call) in its transaction. With
	// p.Cursor the feed cursor is moved (compare-and-set, else
	// ErrFeedCursorMoved and nothing applied) in the same transaction, also
	// when the batch is a replay.
	ApplyStockEvents(ctx context.Context, p ApplyStockEventsParams, now time.Time) ([]StockEventResult, error)
	// CreateReconciliation stores a RUNNING run, idempotent on its request
	// id (same fingerprint → the existing run with created false; another
	// → ErrIdempotencyKeyReused). An overlapping RUNNING run fails with
	// *ReconciliationInProgressError. A created run is audited
	// ("reconciliation.start" by actor) in its transaction.
	CreateReconciliation(ctx context.Context, run Reconciliation, fingerprint string, actor Actor) (Reconciliation, bool, error)
	// SKUsInScope returns the SKUs with a stock level in the scope (empty
	// lists: everything).
	SKUsInScope(ctx context.Context, warehouses, skus []string) ([]string, error)
	// ReconcileChunk compares the run's in-scope stock levels of p.SKUs
	// with p.Entries (the snapshot rows of those SKUs) in one transaction,
	// records variances and counts, and with ApplyCorrections corrects
	// on-hand and source sequence (except SKIPPED_SNAPSHOT_BEHIND),
	// emitting StockChangedEvent and VarianceDetectedEvent, auditing each
	// correction ("stock_level.correct" by p.Actor) and raising an
	// INVENTORY_VARIANCE exception for each variance out of tolerance
	// (Variance.OutOfTolerance with p.ExceptionThreshold).
	ReconcileChunk(ctx context.Context, p ReconcileChunkParams, now time.Time) error
	// FinishReconciliation ends a run and emits ReconciliationCompletedEvent.
	FinishReconciliation(ctx context.Context, id string, state ReconciliationState, errMsg string, snapshotTime, now time.Time) error
	// FailRunningReconciliations ends every RUNNING run as FAILED with msg.
	FailRunningReconciliations(ctx context.Context, msg string, now time.Time) (int, error)
	// GetReconciliation returns a run or ErrReconciliationNotFound.
	GetReconciliation(ctx context.Context, id string) (Reconciliation, error)
	// ListReconciliations returns a page of runs, newest first.
	ListReconciliations(ctx context.Context, q ReconciliationQuery) ([]Reconciliation, error)
	// GetVariance returns one variance or ErrVarianceNotFound.
	GetVariance(ctx context.Context, runID, sku, warehouse string) (Variance, error)
	// ListVariances returns a page of variances by SKU, then warehouse.
	ListVariances(ctx context.Context, q VarianceQuery) ([]Variance, error)
	// FeedCursor returns the saved position of a stock event feed and
	// whether there is one.
	FeedCursor(ctx context.Context, feed string) (string, bool, error)
	// SaveFeedCursor saves the position of a stock event feed.
	SaveFeedCursor(ctx context.Context, feed, cursor string, now time.Time) error
	// Stats returns operational figures for metrics; gapBefore is the
	// receive time before which a buffered event counts as overdue.
	Stats(ctx context.Context, gapBefore time.Time) (Stats, error)
	// DueHolds returns the ids of up to limit HELD reservations whose
	// expiry is at or before now.
	DueHolds(ctx context.Context, now time.Time, limit int) ([]string, error)
	// RaiseSequenceGaps raises a STOCK_SEQUENCE_GAP exception for every
	// open SequenceGap whose oldest buffered event was received before
	// overdueBefore, and remembers it in the same transaction, so each gap
	// (source, SKU, warehouse, expected sequence) is raised once, also
	// across restarts and concurrent callers. It returns how many it
	// raised; errors are the database's.
	RaiseSequenceGaps(ctx context.Context, overdueBefore, now time.Time) (int, error)
}

// ReconcileChunkParams is one chunk of a reconciliation run.
type ReconcileChunkParams struct {
	Run Reconciliation
	// Actor started the run; its corrections are audited as theirs.
	Actor Actor
	// SKUs are compared; Entries are the snapshot rows of those SKUs.
	SKUs    []string
	Entries []SnapshotEntry
	// ExceptionThreshold is the threshold of Variance.OutOfTolerance.
	ExceptionThreshold int64
}

// BuildFunc builds a reservation from every warehouse and the locked stock
// levels of the requested SKUs.
type BuildFunc func(ws []Warehouse, levels []StockLevel) (Reservation, []Movement, error)

// UpdateFunc changes a locked reservation and says what changed.
type UpdateFunc func(r *Reservation) (Outcome, error)

// Operation identifies an idempotent reservation operation.
type Operation struct {
	// Kind is "release", "commit", "confirm", "extend" or "expire".
	Kind string
	// RequestID and Fingerprint de-duplicate client retries (empty for
	// internal operations such as expiry).
	RequestID   string
	Fingerprint string
	// ShipmentID makes a commit idempotent per (reservation, shipment).
	ShipmentID string
	// Actor is who operates; the change is audited as
	// "reservation.<Kind>" by them (ServiceActor when unset).
	Actor Actor
}

// ReservationEvent names the reservation event an update emits.
type ReservationEvent int

// Reservation events.
const (
	EventNone ReservationEvent = iota
	EventReleased
	EventCommitted
	EventExpired
	EventBackorderAllocated
)

// Outcome is what an UpdateFunc changed.
type Outcome struct {
	// Changed is false when the operation was a no-op; nothing is saved
	// (the request id is still recorded).
	Changed bool
	// Movements are applied to the stock levels.
	Movements []Movement
	// Event is emitted with Quantities, Reason and ShipmentID.
	Event      ReservationEvent
	Quantities []ReservationQuantity
	Reason     string
	ShipmentID string
	// WarehouseCode is the warehouse of a commit.
	WarehouseCode string
}

// StockLevelQuery selects a page of stock levels.
type StockLevelQuery struct {
	// WarehouseCode restricts to one warehouse; empty means all.
	WarehouseCode string
	// SKU restricts to one SKU; empty means all.
	SKU string
	// AvailableOnly keeps levels with available > 0.
	AvailableOnly bool
	// OversoldOnly keeps levels with reserved > on_hand.
	OversoldOnly bool
	// AfterSKU and AfterWarehouse continue after this key (keyset paging).
	AfterSKU       string
	AfterWarehouse string
	// Limit is the page size.
	Limit int
}

// Stats are operational figures exported as metrics.
type Stats struct {
	// OversoldUnits is the reserved quantity not backed by on-hand, summed
	// over all levels.
	OversoldUnits int64
	// BufferedEvents are stock events waiting for a missing predecessor;
	// OverdueBufferedEvents those waiting longer than the gap timeout.
	BufferedEvents        int64
	OverdueBufferedEvents int64
	// HeldReservations and ConfirmedReservations are open reservations.
	HeldReservations      int64
	ConfirmedReservations int64
	// LastReconciliation is the latest finished successful run (zero ID
	// when none).
	LastReconciliation Reconciliation
}
