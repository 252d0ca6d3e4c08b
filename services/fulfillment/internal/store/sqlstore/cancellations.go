package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Cancellation is a recorded CancelFulfillment call.
type Cancellation struct {
	RequestID   string
	OrderID     string
	Fingerprint string
	Reason      string
	CreateTime  time.Time
}

// Cancellation returns the cancellation recorded under requestID and
// whether there is one.
func (t *Tx) Cancellation(ctx context.Context, requestID string) (Cancellation, bool, error) {
	c := Cancellation{RequestID: requestID}
	var createUS int64
	err := t.tx.QueryRowContext(ctx, t.d.Rebind(`
		SELECT order_id, fingerprint, reason, create_us FROM fulfillment_cancellations WHERE request_id = ?`), requestID).
		Scan(&c.OrderID, &c.Fingerprint, &c.Reason, &createUS)
	if errors.Is(err, sql.ErrNoRows) {
		return Cancellation{}, false, nil
	}
	if err != nil {
		return Cancellation{}, false, fmt.Errorf("read cancellation %s: %w", requestID, err)
	}
	c.CreateTime = fromUS(createUS)
	return c, true, nil
}

// RecordCancellation stores a cancellation.
func (t *Tx) RecordCancellation(ctx context.Context, c Cancellation) error {
	_, err := t.tx.ExecContext(ctx, t.d.Rebind(`
		INSERT INTO fulfillment_cancellations (request_id, order_id, fingerprint, reason, create_us) VALUES (?, ?, ?, ?, ?)`),
		c.RequestID, c.OrderID, c.Fingerprint, c.Reason, us(c.CreateTime))
	if err != nil {
		return fmt.Errorf("record cancellation %s: %w", c.RequestID, err)
	}
	return nil
}

// OrderCancelled reports whether fulfilment of the order was cancelled.
func (t *Tx) OrderCancelled(ctx context.Context, orderID string) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, t.d.Rebind(`SELECT COUNT(*) FROM fulfillment_cancellations WHERE order_id = ?`), orderID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("order %s cancelled: %w", orderID, err)
	}
	return n > 0, nil
}

// OrderRequests returns every request of an order, oldest first, locking
// them on PostgreSQL.
func (t *Tx) OrderRequests(ctx context.Context, orderID string) ([]*fulfillment.Request, error) {
	q := `SELECT ` + requestColumns + ` FROM fulfillment_requests WHERE order_id = ? ORDER BY create_us, id`
	if t.d == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	rows, err := t.tx.QueryContext(ctx, t.d.Rebind(q), orderID)
	if err != nil {
		return nil, fmt.Errorf("requests of order %s: %w", orderID, err)
	}
	defer rows.Close()
	var out []*fulfillment.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RequestHasShipments reports whether any shipment was recorded for the
// request (something was picked, packed or shipped).
func (t *Tx) RequestHasShipments(ctx context.Context, requestID string) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, t.d.Rebind(`SELECT COUNT(*) FROM shipments WHERE request_id = ?`), requestID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("shipments of %s: %w", requestID, err)
	}
	return n > 0, nil
}
