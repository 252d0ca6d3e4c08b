package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/transload/transload/services/fulfillment/internal/fulfillment"
)

// Cancellation implements fulfillment.Tx.
func (t *Tx) Cancellation(ctx context.Context, requestID string) (fulfillment.Cancellation, bool, error) {
	c := fulfillment.Cancellation{RequestID: requestID}
	var createUS int64
	err := t.queryRow(ctx, `SELECT order_id, fingerprint, reason, create_us FROM fulfillment_cancellations WHERE request_id = ?`,
		requestID).Scan(&c.OrderID, &c.Fingerprint, &c.Reason, &createUS)
	if errors.Is(err, sql.ErrNoRows) {
		return fulfillment.Cancellation{}, false, nil
	}
	if err != nil {
		return fulfillment.Cancellation{}, false, fmt.Errorf("read cancellation %s: %w", requestID, err)
	}
	c.CreateTime = fromUS(createUS)
	return c, true, nil
}

// RecordCancellation implements fulfillment.Tx.
func (t *Tx) RecordCancellation(ctx context.Context, c fulfillment.Cancellation) error {
	_, err := t.exec(ctx, `
		INSERT INTO fulfillment_cancellations (request_id, order_id, fingerprint, reason, create_us) VALUES (?, ?, ?, ?, ?)`,
		c.RequestID, c.OrderID, c.Fingerprint, c.Reason, us(c.CreateTime))
	if err != nil {
		return fmt.Errorf("record cancellation %s: %w", c.RequestID, err)
	}
	return nil
}

// OrderCancelled implements fulfillment.Tx.
func (t *Tx) OrderCancelled(ctx context.Context, orderID string) (bool, error) {
	var n int
	err := t.queryRow(ctx, `SELECT COUNT(*) FROM fulfillment_cancellations WHERE order_id = ?`, orderID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("order %s cancelled: %w", orderID, err)
	}
	return n > 0, nil
}
