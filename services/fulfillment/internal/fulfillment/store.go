package fulfillment

import "time"

// RequestFilter selects fulfilment requests for listing.
type RequestFilter struct {
	// OrderID restricts to one order; empty means all orders.
	OrderID     string
	State       RequestState
	WarehouseID string
	CustomerID  string
	// CreatedFrom and CreatedBefore bound create_time (zero: unbounded).
	CreatedFrom   time.Time
	CreatedBefore time.Time
	Desc          bool
	PageSize      int
	PageToken     string
}

// ShipmentFilter selects shipments for listing.
type ShipmentFilter struct {
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
	// ByUpdateTime orders by update_time instead of create_time.
	ByUpdateTime bool
	Desc         bool
	PageSize     int
	PageToken    string
}

// EffectKind names a side effect driven from the durable effects queue.
type EffectKind string

// Effect kinds.
const (
	// EffectCommitReservation commits the shipped quantities in inventory.
	EffectCommitReservation EffectKind = "inventory.commit_reservation"
	// EffectRecordShipmentProgress tells the order service a shipment
	// shipped or was delivered.
	EffectRecordShipmentProgress EffectKind = "order.record_shipment_progress"
)

// Effect is an outbound call recorded in the same transaction as the
// change that requires it and executed (with retries) afterwards. Exactly
// one of Commit and Progress is set, as Kind says.
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
	// Unreadable is set by the store, instead of the call, when the
	// stored call cannot be read back (an unknown kind or payload): the
	// runner parks such an effect as failed rather than retrying it.
	Unreadable    error
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	CreateTime    time.Time
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
