package wms

import (
	"context"
	"time"
)

// Store persists shipment requests, expected returns and their event
// feeds. Implementations are safe for concurrent use; every method is one
// transaction.
type Store interface {
	// CreateShipmentRequest records a shipment request under id. When one
	// exists it increments its Submissions and returns it with created =
	// false. Otherwise it calls build with the next outbound order number
	// and inserts what build returns (Submissions 1) with created = true.
	// build may run more than once and must have no side effects. It
	// returns ErrDuplicateKey only if another process keeps inserting the
	// id concurrently.
	CreateShipmentRequest(ctx context.Context, id string, build func(number int64) (ShipmentRequest, error)) (r ShipmentRequest, created bool, err error)
	// GetShipmentRequest returns the request with id or
	// ErrShipmentRequestNotFound.
	GetShipmentRequest(ctx context.Context, id string) (ShipmentRequest, error)
	// UpdateShipmentRequest loads the request with id (locked against
	// concurrent updates), calls fn to change it, stores it and appends the
	// events fn returns to the shipment event feed in order. An error from
	// fn aborts without changes and is returned as is;
	// ErrShipmentRequestNotFound when id is unknown.
	UpdateShipmentRequest(ctx context.Context, id string, fn func(r *ShipmentRequest) ([]ShipmentEvent, error)) (ShipmentRequest, error)
	// UpdateShipmentRequests is UpdateShipmentRequest for each of ids, in
	// that order, all in one transaction: every update is stored or none
	// (the first error, fn's as is or ErrShipmentRequestNotFound, aborts
	// them all). It returns the events appended, in feed order. fn may run
	// more than once for an id and must have no side effects.
	UpdateShipmentRequests(ctx context.Context, ids []string, fn func(r *ShipmentRequest) ([]ShipmentEvent, error)) ([]ShipmentEvent, error)
	// ListShipmentRequests returns every request ordered by Number.
	ListShipmentRequests(ctx context.Context) ([]ShipmentRequest, error)
	// DueShipmentRequests returns up to limit ids of requests whose
	// NextStepAt is set and not after now, earliest first.
	DueShipmentRequests(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ShipmentEvents returns up to limit events with Position > after in
	// Position order.
	ShipmentEvents(ctx context.Context, after int64, limit int) ([]ShipmentEvent, error)
	// ShipmentEventHead returns the highest Position assigned so far (0 when
	// the feed is empty).
	ShipmentEventHead(ctx context.Context) (int64, error)

	// CreateExpectedReturn is CreateShipmentRequest for expected returns.
	CreateExpectedReturn(ctx context.Context, id string, build func(number int64) (ExpectedReturn, error)) (r ExpectedReturn, created bool, err error)
	// GetExpectedReturn returns the expected return with id or
	// ErrExpectedReturnNotFound.
	GetExpectedReturn(ctx context.Context, id string) (ExpectedReturn, error)
	// UpdateExpectedReturn is UpdateShipmentRequest for expected returns
	// and the return event feed; ErrExpectedReturnNotFound when id is
	// unknown.
	UpdateExpectedReturn(ctx context.Context, id string, fn func(r *ExpectedReturn) ([]ReturnEvent, error)) (ExpectedReturn, error)
	// DueExpectedReturns returns up to limit ids of expected returns whose
	// ReceiveAt is set and not after now, earliest first.
	DueExpectedReturns(ctx context.Context, now time.Time, limit int) ([]string, error)
	// ReturnEvents returns up to limit return events with Position > after.
	ReturnEvents(ctx context.Context, after int64, limit int) ([]ReturnEvent, error)
	// ReturnEventHead returns the highest return event Position (0 when
	// empty).
	ReturnEventHead(ctx context.Context) (int64, error)
}
